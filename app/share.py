"""Share links: a session's configuration and current weights in one URL-safe token.

The token is compact JSON → zlib → base64url without padding. JSON writes every float with
``repr``, the shortest text that reads back as the same double, so the weights survive the round
trip bit for bit. Only what :func:`app.session.create` needs is kept (no history, no traces): the
link opens a fresh session that starts from the shared weights.

A token comes from a URL, so :func:`decode` trusts nothing: it caps the token's length and the
decompressed size (a small token could otherwise inflate to gigabytes), checks every field's type
and shape, builds a session to let the engine check the rest, and reports every problem as an
:class:`~app.errors.BadShareLinkError` whose message says what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from typing import Any

from app import codec, session
from app.datasets import Dataset, make_dataset
from app.errors import BadShareLinkError, InvalidInputError, TooBigToShareError
from app.limits import MAX_SEED, MAX_SHARED_BYTES, MAX_TOKEN_LENGTH
from app.session import Session

#: Format version written into every token.
VERSION = 1

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = (
    "v",
    "layers",
    "activation",
    "output_activation",
    "loss",
    "learning_rate",
    "train_biases",
    "seed",
    "mode",
    "weights",
    "biases",
)
_OPTIONAL = ("dataset", "input", "target")


def document(current: Session) -> dict[str, Any]:
    """What a link holds: the fields of :func:`app.session.create` for this session, as JSON data."""
    data = current.data
    doc: dict[str, Any] = {
        "v": VERSION,
        **codec.config_to_json(current.config),
        **codec.params_to_json(current.params),
    }
    if data.name is not None:
        doc["dataset"] = data.name
    elif data.is_single:
        doc["input"] = data.inputs[0].tolist()
        doc["target"] = data.targets[0].tolist()
    else:
        doc["dataset"] = {"inputs": data.inputs.tolist(), "targets": data.targets.tolist()}
    return doc


def encode(current: Session) -> str:
    """The share token of a session; TooBigToShareError if it would be too long for a link."""
    text = json.dumps(document(current), separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(text) > MAX_SHARED_BYTES:
        raise TooBigToShareError(
            f"share link: this session needs {len(text)} bytes, more than a link holds "
            f"({MAX_SHARED_BYTES}); export it as a file instead"
        )
    token = base64.urlsafe_b64encode(zlib.compress(text, 9)).rstrip(b"=").decode("ascii")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TooBigToShareError(
            f"share link: this session needs a {len(token)}-character link, more than "
            f"{MAX_TOKEN_LENGTH}; export it as a file instead"
        )
    return token


def decode(token: object) -> dict[str, Any]:
    """The fields for :func:`app.session.create` from a share token, all checked.

    ``dataset`` is a built-in name or a :class:`~app.datasets.Dataset` (a user table). Raises
    BadShareLinkError, and nothing else, for any token that is not a valid link.
    """
    try:
        return _decode(token)
    except BadShareLinkError:
        raise
    except Exception as exc:  # a safety net under the checks below: a bad link is never a 500
        raise BadShareLinkError(f"share link: not a valid link ({type(exc).__name__})") from exc


def _fail(message: str) -> BadShareLinkError:
    return BadShareLinkError(f"share link: {message}")


def _unpack(token: object) -> Any:
    if not isinstance(token, str) or not token:
        raise _fail("the token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _fail(f"the token is {len(token)} characters long; at most {MAX_TOKEN_LENGTH} are accepted")
    if not _BASE64URL.fullmatch(token):
        raise _fail("the token may hold only letters, digits, '-' and '_' (base64url)")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise _fail("the token is not valid base64url (is the link cut short?)") from None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(packed, MAX_SHARED_BYTES)
    except zlib.error:
        raise _fail("the token does not hold compressed data (is the link cut short?)") from None
    if inflater.unconsumed_tail:
        raise _fail(f"the token unpacks to more than {MAX_SHARED_BYTES} bytes")
    if not inflater.eof or inflater.unused_data:
        raise _fail("the token's compressed data is cut short or has extra bytes")

    def refuse_constant(name: str) -> Any:
        raise _fail(f"the token holds {name}, which is not a number a network can hold")

    try:
        return json.loads(text.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail("the token does not hold valid JSON") from None
    except RecursionError:
        raise _fail("the token's JSON is nested too deeply") from None


def _decode(token: object) -> dict[str, Any]:
    doc = _unpack(token)
    if not isinstance(doc, dict):
        raise _fail("the token does not hold a JSON object")
    if doc.get("v") != VERSION:
        raise _fail(f"unknown link format {doc.get('v')!r}; this server reads version {VERSION}")
    missing = [key for key in _REQUIRED if key not in doc]
    if missing:
        raise _fail(f"missing {', '.join(missing)}")
    unknown = sorted(str(key) for key in doc if key not in _REQUIRED and key not in _OPTIONAL)
    if unknown:
        raise _fail(f"unknown field {', '.join(unknown)}")

    fields: dict[str, Any] = {
        "layers": _integers(doc["layers"], "layers"),
        "activation": _text(doc["activation"], "activation"),
        "output_activation": _text(doc["output_activation"], "output_activation"),
        "loss": _text(doc["loss"], "loss"),
        "learning_rate": _number(doc["learning_rate"], "learning_rate"),
        "train_biases": _flag(doc["train_biases"], "train_biases"),
        "seed": _seed(doc["seed"]),
        "mode": _text(doc["mode"], "mode"),
        "weights": _nested(doc["weights"], 3, "weights"),
        "biases": _nested(doc["biases"], 2, "biases"),
    }
    if "dataset" in doc:
        if "input" in doc or "target" in doc:
            raise _fail("give either a dataset or an input and target, not both")
        fields["dataset"] = _dataset(doc["dataset"])
    else:
        if "input" not in doc or "target" not in doc:
            raise _fail("needs a dataset, or an input and a target")
        fields["input"] = _nested(doc["input"], 1, "input")
        fields["target"] = _nested(doc["target"], 1, "target")
    try:
        session.create("share-link-check", **fields)
    except InvalidInputError as exc:
        raise _fail(str(exc)) from None
    return fields


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{name}: expected a name, got {type(value).__name__}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(f"{name}: expected true or false")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise _fail(f"{name}: expected a finite number")
    return float(value)


def _seed(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEED:
        raise _fail(f"seed: expected a whole number in 0..{MAX_SEED}")
    return value


def _integers(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _fail(f"{name}: expected a list of whole numbers")
    return list(value)


def _nested(value: Any, depth: int, name: str) -> Any:
    """Lists nested ``depth`` deep with finite numbers at the bottom, as floats."""
    if depth == 1:
        if not isinstance(value, list):
            raise _fail(f"{name}: expected a list of numbers")
        return [_number(v, name) for v in value]
    if not isinstance(value, list):
        raise _fail(f"{name}: expected lists nested {depth} deep")
    return [_nested(item, depth - 1, name) for item in value]


def _dataset(value: Any) -> str | Dataset:
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or set(value) != {"inputs", "targets"}:
        raise _fail("dataset: expected a built-in name or {inputs, targets}")
    try:
        return make_dataset(
            _nested(value["inputs"], 2, "dataset.inputs"), _nested(value["targets"], 2, "dataset.targets")
        )
    except InvalidInputError as exc:
        raise _fail(str(exc)) from None
