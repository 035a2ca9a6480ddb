"""Share links: a bit-exact round trip, and every bad token refused with an InvalidInputError."""

from __future__ import annotations

import base64
import json
import random
import re
import zlib
from typing import Any

import numpy as np
import pytest

from app import session, share
from app.datasets import Dataset
from app.errors import InvalidInputError
from app.limits import MAX_SHARED_BYTES, MAX_TOKEN_LENGTH
from app.session import Session


def token_of(document: Any, *, raw: bytes | None = None) -> str:
    """A token holding any JSON value (or raw bytes), built the way share.encode builds one."""
    text = raw if raw is not None else json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(text)).rstrip(b"=").decode()


def round_trip(original: Session) -> Session:
    token = share.encode(original)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # URL-safe, no padding
    return session.create("copy", **share.decode(token))


def assert_same_network(copy: Session, original: Session) -> None:
    assert copy.config == original.config
    for ours, theirs in zip(copy.params.weights, original.params.weights, strict=True):
        assert np.array_equal(ours, theirs)  # bit for bit
    for ours, theirs in zip(copy.params.biases, original.params.biases, strict=True):
        assert np.array_equal(ours, theirs)
    assert copy.data.name == original.data.name
    assert np.array_equal(copy.data.inputs, original.data.inputs)
    assert np.array_equal(copy.data.targets, original.data.targets)


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


def test_the_default_session_round_trips() -> None:
    original = session.create("s")
    copy = round_trip(original)
    assert_same_network(copy, original)
    assert copy.input == [0.05, 0.1] and copy.target == [0.01, 0.99]


def test_a_deeper_trained_network_round_trips_bit_for_bit() -> None:
    original = session.create(
        "s",
        layers=[2, 5, 4, 3, 2],
        activation="tanh",
        output_activation="linear",
        learning_rate=0.05,
        seed=12345,
        input=[0.3, -1.7],
        target=[0.25, -0.5],
        train_biases=False,
    )
    original = session.run_steps(original, 37)  # weights with every bit in use
    copy = round_trip(original)
    assert_same_network(copy, original)
    assert copy.step == 0  # a link starts a fresh session from the shared weights


def test_a_builtin_dataset_session_round_trips() -> None:
    original = session.run_steps(
        session.create("s", layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch"), 25
    )
    fields = share.decode(share.encode(original))
    assert fields["dataset"] == "xor" and "input" not in fields
    assert_same_network(session.create("copy", **fields), original)


def test_a_user_table_round_trips() -> None:
    table = Dataset(
        None, np.array([[0.1, 0.2], [1 / 3, -2.5], [7.0, 1e-300]]), np.array([[1.0], [0.0], [0.5]])
    )
    original = session.create("s", layers=[2, 3, 1], dataset=table, loss="bce", seed=9)
    fields = share.decode(share.encode(original))
    assert isinstance(fields["dataset"], Dataset)
    assert_same_network(session.create("copy", **fields), original)


def test_the_largest_network_fits_in_a_link() -> None:
    original = session.run_steps(
        session.create("s", layers=[8] * 6, input=[0.1 * k for k in range(8)], target=[0.5] * 8, seed=3), 5
    )
    token = share.encode(original)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert_same_network(session.create("copy", **share.decode(token)), original)


def test_a_session_too_big_for_a_link_is_refused() -> None:
    rng = np.random.default_rng(0)
    table = Dataset(None, rng.random((256, 8)), rng.random((256, 8)))
    big = session.create("s", layers=[8, 8, 8], dataset=table)
    with pytest.raises(InvalidInputError, match="export it as a file instead"):
        share.encode(big)


# --------------------------------------------------------------------------------------------
# Bad tokens
# --------------------------------------------------------------------------------------------


def valid_document() -> dict[str, Any]:
    return share.document(session.create("s"))


def changed(**changes: Any) -> str:
    document = valid_document()
    for key, value in changes.items():
        if value is None:
            del document[key]
        else:
            document[key] = value
    return token_of(document)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "the token is empty"),
        (None, "the token is empty"),
        (12345, "the token is empty"),
        ("abc$def", r"only letters, digits, '-' and '_'"),
        ("abc=", r"only letters, digits, '-' and '_'"),
        ("abcde", "not valid base64url"),
        ("AAAAAAAA", "does not hold compressed data"),
        (token_of(None, raw=b"\xff\xfe not text"), "does not hold valid JSON"),
        (token_of(None, raw=b"{not json"), "does not hold valid JSON"),
        (token_of([1, 2, 3]), "does not hold a JSON object"),
        (token_of(None, raw=b'{"v":1,"learning_rate":NaN}'), "holds NaN"),
        (token_of(None, raw=b"[" * 5000 + b"]" * 5000), "nested too deeply"),
        (changed(v=2), "unknown link format 2"),
        (changed(v=None), "unknown link format None"),
        (changed(weights=None), "missing weights"),
        (changed(extra=1), "unknown field extra"),
        (changed(layers=[2, "3", 2]), "layers: expected a list of whole numbers"),
        (changed(learning_rate="fast"), "learning_rate: expected a finite number"),
        (  # 1e400 is valid JSON that Python reads as infinity
            token_of(None, raw=json.dumps(valid_document()).replace("0.5", "1e400", 1).encode()),
            "learning_rate: expected a finite number",
        ),
        (changed(learning_rate=-1.0), "learning_rate: must lie in"),
        (changed(train_biases=1), "train_biases: expected true or false"),
        (changed(seed=-1), "seed: expected a whole number"),
        (changed(seed=True), "seed: expected a whole number"),
        (changed(activation=3), "activation: expected a name"),
        (changed(activation="swish"), "unknown activation 'swish'"),
        (changed(weights=[[["a"]]]), "weights: expected a finite number"),
        (changed(weights=[[[1.0, 2.0]]]), r"weights: expected 2 matrices"),
        (changed(weights=[[[1.0, 2.0, 3.0]] * 2, [[1.0, 2.0]] * 2]), r"weights\[1\]: expected a 3×2 matrix"),
        (changed(biases=[[0.0, 0.0, 0.0], 5]), "biases: expected a list of numbers"),
        (changed(weights=[[[2e6, 0.0, 0.0]] * 2, [[0.0, 0.0]] * 3]), r"within ±1e\+06"),
        (changed(dataset="xor"), "give either a dataset or an input and target, not both"),
        (changed(input=None), "needs a dataset, or an input and a target"),
        (changed(input=None, target=None, dataset="spiral"), "unknown built-in dataset 'spiral'"),
        (changed(input=None, target=None, dataset={"inputs": [[0.0, 1.0]]}), "expected a built-in name"),
        (
            changed(input=None, target=None, dataset={"inputs": [[0.0, 1.0]], "targets": []}),
            "1 input rows but 0 target rows",
        ),
        (changed(input=[0.1, 0.2, 0.3]), "the network has 2 inputs"),
    ],
)
def test_bad_tokens_are_refused_with_a_message(token: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        share.decode(token)
    assert str(caught.value).startswith("share link: ")


def test_an_oversized_token_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidInputError, match=f"at most {MAX_TOKEN_LENGTH} are accepted"):
        share.decode("A" * (MAX_TOKEN_LENGTH + 1))


def test_a_zlib_bomb_is_not_inflated() -> None:
    bomb = token_of(None, raw=b'{"v":1,' + b" " * 6_000_000 + b"}")  # 6 MB in a short token
    assert len(bomb) <= MAX_TOKEN_LENGTH
    with pytest.raises(InvalidInputError, match=f"unpacks to more than {MAX_SHARED_BYTES} bytes"):
        share.decode(bomb)


def test_a_cut_short_link_is_refused() -> None:
    token = share.encode(session.create("s"))
    for length in (len(token) - 1, len(token) - 3, len(token) // 2, 8):
        with pytest.raises(InvalidInputError, match="share link: "):
            share.decode(token[:length])
    raw = zlib.compress(json.dumps(valid_document()).encode()) + b"tail"
    with pytest.raises(InvalidInputError, match="extra bytes"):
        share.decode(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def test_mangled_tokens_raise_nothing_but_engine_errors() -> None:
    token = share.encode(session.run_steps(session.create("s", dataset="xor"), 3))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rng = random.Random(7)
    messages: list[str] = []
    for _ in range(500):
        chars = list(token)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        try:
            fields = share.decode("".join(chars))
        except InvalidInputError as exc:  # any other exception fails the test
            messages.append(str(exc))
        else:
            session.create("ok", **fields)  # whatever decodes is a valid session
    assert messages and all(m.startswith("share link: ") for m in messages)
