"""The documents' models describe the real documents: an export (plain, with a history, after an
update) is a SessionDocument, and a notebook is a Notebook (every field each model requires)."""

from __future__ import annotations

import json

import pytest

from app import codec, notebook, session
from app.web.documents import Notebook, SessionDocument


@pytest.mark.parametrize(
    "current",
    [
        session.create("a"),
        session.run_update(session.run_backward(session.run_forward(session.create("b", dataset="xor")))),
        session.train(session.create("c", layers=[2, 4, 1], dataset="xor", mode="batch"), 30),
    ],
    ids=["new", "updated", "trained"],
)
def test_an_export_is_a_session_document(current: session.Session) -> None:
    for compact in (False, True):
        document = json.loads(json.dumps(codec.to_document(current, compact=compact)))
        assert (
            SessionDocument.model_validate(document).model_dump(exclude_unset=True).keys() == document.keys()
        )


def test_a_notebook_is_a_notebook() -> None:
    document = json.loads(notebook.dumps(session.run_forward(session.create("n"))))
    parsed = Notebook.model_validate(document)
    assert parsed.nbformat == 4 and len(parsed.cells) == len(document["cells"])
