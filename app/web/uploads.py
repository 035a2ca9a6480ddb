"""Reading an uploaded session document: the body as sent or gzip-compressed, held to a limit,
parsed off the event loop. A body that cannot be read is a 4xx that says why."""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed when sent with ``Content-Encoding: gzip``; 413 past
    ``limit`` bytes (as sent, and once decompressed), 415 for another encoding."""
    raw = await request.body()  # the BodyLimit middleware stops it at `limit` bytes received
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise HTTPException(415, f"Content-Encoding {encoding!r} is not supported: send gzip or nothing")
    return await run_in_threadpool(gunzip, raw, limit)


def gunzip(raw: bytes, limit: int) -> bytes:
    """Decompress gzip, refusing (413) more than ``limit`` bytes of output (a zip bomb stops there)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise HTTPException(422, f"the body is not valid gzip: {exc}") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise HTTPException(413, f"the decompressed body is larger than {limit // 2**20} MB")
    if not inflater.eof:
        raise HTTPException(422, "the body is not valid gzip: it ends early")
    return data


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes; 422 saying why when it is not one."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "the body is not UTF-8 text") from exc
    except ValueError as exc:
        raise HTTPException(422, f"the body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise HTTPException(422, "not a session document: expected a JSON object")
    return document
