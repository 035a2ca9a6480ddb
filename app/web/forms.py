"""The one form reader of the page: a posted body read within bounds, and its fields read as
numbers, whole numbers or a range, each refusal a message to show next to the field.

Reading never raises: a body that cannot be read (too large, malformed) comes back as a
:class:`Form` with a ``problem``, and each route decides how to show it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as ParseError

from app.limits import MAX_FORM_BYTES, Interval
from app.notation import read_number

_WHOLE = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Upload:
    """A file part of a form."""

    filename: str
    #: Its bytes, at most one more than the reader's limit (so a larger file can be told apart).
    data: bytes


@dataclass(frozen=True)
class Form:
    """A posted form: its text fields, or why it could not be read."""

    fields: dict[str, str] = field(default_factory=dict)
    #: Why the body could not be read, as the parser says it ("Missing boundary in multipart.");
    #: None when it was read.
    unreadable: str | None = None
    #: True when the body was refused unread for its size.
    too_large: bool = False
    #: The limit the body was held to, for the message.
    max_bytes: int = MAX_FORM_BYTES
    #: The file part asked for, if the form had one with a file name.
    upload: Upload | None = None

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    @property
    def problem(self) -> str | None:
        """Why the body could not be read, in words; None when it was read."""
        if self.too_large:
            return f"the form is larger than {self.max_bytes // 1024} KB"
        if self.unreadable is not None:
            return f"the form could not be read ({self.unreadable})"
        return None

    def require(self) -> Form:
        """The form, or the request refused for it: 413 too large, 422 unreadable."""
        if self.problem is not None:
            raise HTTPException(413 if self.too_large else 422, self.problem)
        return self


async def read_form(
    request: Request,
    *,
    max_bytes: int = MAX_FORM_BYTES,
    upload: str | None = None,
    max_upload_bytes: int = 0,
) -> Form:
    """The text fields of a posted form, held to ``max_bytes``; with ``upload``, also that file
    part, read up to ``max_upload_bytes`` + 1 bytes. Any other file part is closed unread (it
    would otherwise stay open until garbage collection)."""
    length = whole_number(request.headers.get("content-length"))
    if length is not None and length > max_bytes:
        return Form(too_large=True, max_bytes=max_bytes)
    try:
        form = await request.form()
    except ParseError as exc:  # Starlette's own, which FastAPI's HTTPException extends
        return Form(unreadable=str(exc.detail), max_bytes=max_bytes)
    try:
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        part = form.get(upload) if upload is not None else None
        file = None
        if isinstance(part, UploadFile) and part.filename:
            file = Upload(part.filename, await part.read(max_upload_bytes + 1))
        return Form(fields, max_bytes=max_bytes, upload=file)
    finally:
        await form.close()


def whole_number(text: str | None) -> int | None:
    """A whole number of at most 12 ASCII digits, else None (str.isdigit accepts "²", which
    int() refuses, and int() refuses 4,301 digits: neither may reach a 500)."""
    text = (text or "").strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def number_field(raw: str | None, label: str, bounds: Interval) -> tuple[float | None, str | None]:
    """A number from a form field within ``bounds``, or the message to show next to the field."""
    text = (raw or "").strip()
    if not text:
        return None, f"{label}: enter a number"
    value = read_number(text)
    if value is None:
        return None, f"{label}: “{raw}” is not a number"
    if not math.isfinite(value):
        return None, f"{label}: must be a finite number"
    if value not in bounds:
        return None, f"{label}: must lie in {bounds}"
    return value, None
