"""A session from the bytes of an uploaded file (what "Download this session" saved): decoded,
parsed and checked, every refusal a NotASessionDocumentError that says what is wrong with it."""

from __future__ import annotations

import json
from typing import Any

from app import codec
from app.errors import InvalidInputError, NotASessionDocumentError
from app.limits import MAX_UPLOAD_BYTES
from app.session import Session

TOO_LARGE = f"Import: the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"


def _refuse_constant(name: str) -> Any:
    raise NotASessionDocumentError(f"Import: the file holds {name}, which is not a number a session can hold")


def _document(raw: bytes) -> dict[str, Any]:
    """The file's JSON object."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise NotASessionDocumentError(
            "Import: the file is not text (UTF-8 JSON); choose a file exported here"
        ) from None
    except json.JSONDecodeError as exc:
        raise NotASessionDocumentError(
            f"Import: the file is not JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    except RecursionError:
        raise NotASessionDocumentError("Import: the file's JSON is nested too deeply") from None
    if not isinstance(document, dict):
        raise NotASessionDocumentError(
            "Import: the file is JSON but not a session document (expected an object)"
        )
    return document


def read_session_file(raw: bytes, session_id: str) -> Session:
    """The session a file holds, under the id ``session_id``."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise NotASessionDocumentError(TOO_LARGE)
    if not raw.strip():
        raise NotASessionDocumentError("Import: the file is empty")
    document = _document(raw)
    try:
        return codec.from_document(document, session_id)
    except InvalidInputError as exc:
        raise NotASessionDocumentError(f"Import: {exc}") from None
    except Exception as exc:  # a safety net under codec's checks: a bad file is never a 500
        raise NotASessionDocumentError(
            f"Import: not a valid session document ({type(exc).__name__})"
        ) from None
