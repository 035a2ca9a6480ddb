"""A session from an uploaded file's bytes: the round trip, and every refusal saying what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app import codec, session
from app.errors import NotASessionDocumentError
from app.limits import MAX_UPLOAD_BYTES
from app.session_file import TOO_LARGE, read_session_file


def test_an_exported_session_reads_back_under_a_new_id() -> None:
    original = session.train(session.create("a", dataset="xor", layers=[2, 4, 1]), 5)
    raw = json.dumps(codec.to_document(original)).encode("utf-8")
    copy = read_session_file(raw, "b")
    assert copy.id == "b" and copy.step == original.step == 5 * 4
    for ours, theirs in zip(copy.params.weights, original.params.weights, strict=True):
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "Import: the file is empty"),
        (b"  \n", "Import: the file is empty"),
        (b"hello", "Import: the file is not JSON (Expecting value, line 1)"),
        (b"\xff\xfe\x00", "Import: the file is not text (UTF-8 JSON); choose a file exported here"),
        (b"[1, 2]", "Import: the file is JSON but not a session document (expected an object)"),
        (b'{"x": Infinity}', "Import: the file holds Infinity, which is not a number a session can hold"),
        (b"[" * 100_000, "Import: the file's JSON is nested too deeply"),
        (b'{"format": "backprop-viz.session", "version": 1}', "Import: not a valid session document"),
        (b" " * MAX_UPLOAD_BYTES + b"{}", TOO_LARGE),
    ],
)
def test_a_bad_file_is_refused_with_the_reason(raw: bytes, message: str) -> None:
    with pytest.raises(NotASessionDocumentError) as refused:
        read_session_file(raw, "x")
    assert str(refused.value).startswith(message)
