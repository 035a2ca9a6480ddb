"""Idempotency keys: a POST that changes a session, sent again with the same ``Idempotency-Key``
(to the same path: the same session and operation), gets the first answer again and changes
nothing twice, whichever process of whichever host answers it.

A route takes part by declaring the :data:`IDEMPOTENT` dependency (which also documents the
header). The :class:`Idempotency` middleware holds the key in the store's records before the
request runs (``pending:<hash of the body>``, put only if absent, so exactly one request anywhere
runs it), then replaces that with the answer (``done:<hash>:<status, headers and body>``), kept
24 hours. A retry meanwhile gets 409 (still running, try again), or 422 if its body differs from
the first; after, the first answer, with ``Idempotent-Replayed: true``. A request that failed
without changing anything (a 5xx, or 429: not let in) leaves no trace: its key may run again.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Header
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.store import SessionStore
from app.store.base import MAX_RECORD_BYTES
from app.web.route_table import routes_at

#: The records' kind in the store.
KIND = "idem"
#: How long an answer is kept for retries.
KEEP_SECONDS = 24 * 3600.0
#: How long a request holds its key while it runs: a retry after this runs again (the process
#: that held it died). Longer than any request takes (the longest train is about a minute).
HOLD_SECONDS = 600.0
#: Longest key, in characters.
MAX_KEY_LENGTH = 128
#: A key: visible ASCII (a UUID, a random token, "notebook-cell-7"), no spaces.
KEY_PATTERN = rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$"
_KEY = re.compile(KEY_PATTERN)
PENDING = b"pending:"
DONE = b"done:"
#: The headers an answer is replayed with (the rest are the server's of the moment).
KEPT_HEADERS = frozenset({"content-type", "location", "content-disposition", "cache-control"})
#: Largest answer kept (compressed, with its status and headers): a record's size.
MAX_ANSWER_BYTES = MAX_RECORD_BYTES - len(DONE) - 64 - 1


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=KEY_PATTERN,
            description="Any unique string (a UUID): a retry with the same key gets the first answer "
            "and changes nothing twice; kept 24 hours. Visible ASCII, at most 128 characters.",
        ),
    ] = None,
) -> None:
    """Documents (and checks) the header; :class:`Idempotency` acts on it."""


#: The dependency that makes a route idempotent under a key.
IDEMPOTENT = Depends(idempotency_key)


@dataclass(frozen=True)
class Answer:
    """A reply as kept for a retry."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def pack(self) -> bytes | None:
        """Compressed, or None when too large to keep."""
        head = json.dumps({"status": self.status, "headers": self.headers}).encode()
        packed = zlib.compress(head + b"\n" + self.body)
        return packed if len(packed) <= MAX_ANSWER_BYTES else None

    @classmethod
    def unpack(cls, packed: bytes) -> Answer:
        head, _, body = zlib.decompress(packed).partition(b"\n")
        meta = json.loads(head)
        return cls(int(meta["status"]), tuple((str(k), str(v)) for k, v in meta["headers"]), body)

    def response(self) -> Response:
        response = Response(self.body, status_code=self.status)
        for name, value in self.headers:
            response.headers[name] = value
        response.headers["Idempotent-Replayed"] = "true"
        return response


def record_key(scope: Scope, key: str) -> str:
    """The record of a key on one path (session and operation): a hash, so any key fits the store."""
    return hashlib.sha256(f"{scope['method']} {scope['path']}\n{key}".encode()).hexdigest()


def fingerprint(scope: Scope, body: bytes) -> bytes:
    """What a retry must send again: the query and the body, hashed."""
    return hashlib.sha256(scope.get("query_string", b"") + b"\n" + body).hexdigest().encode()


def claim(store: SessionStore, record: str, mark: bytes) -> bytes | None:
    """None when this request now holds the key and runs; else the record another one left."""
    for _ in range(3):  # the record found may expire between the two calls
        if store.put_record(KIND, record, PENDING + mark, HOLD_SECONDS, only_if_absent=True):
            return None
        found = store.get_record(KIND, record)
        if found is not None:
            return found
    raise RuntimeError("the idempotency record keeps expiring under this request")


def finish(store: SessionStore, record: str, mark: bytes, answer: Answer) -> None:
    """Keep the answer for retries (or, too large to keep, that the request was applied)."""
    packed = answer.pack()
    value = DONE + mark + b":" + (packed if packed is not None else b"")
    store.replace_record(KIND, record, PENDING + mark, value, KEEP_SECONDS)


def release(store: SessionStore, record: str, mark: bytes) -> None:
    """Let the key run again: the request changed nothing."""
    store.delete_record(KIND, record, expected=PENDING + mark)


def reply_to_retry(found: bytes, mark: bytes) -> Response:
    """The answer to a request whose key is already held or done."""
    state, _, rest = found.partition(b":")
    theirs, _, packed = rest.partition(b":")
    if theirs != mark:
        return JSONResponse(
            {"detail": "this Idempotency-Key was used with another body: use a new key for a new request"},
            status_code=422,
        )
    if state + b":" == PENDING:
        return JSONResponse(
            {"detail": "a request with this Idempotency-Key is still running: try again shortly"},
            status_code=409,
            headers={"Retry-After": "1"},
        )
    if not packed:
        return JSONResponse(
            {
                "detail": "this request was applied, but its answer was too large to keep for a retry: "
                "read the session to see it"
            },
            status_code=409,
        )
    return Answer.unpack(packed).response()


def _idempotent(route: object) -> bool:
    return isinstance(route, APIRoute) and any(
        dependency.call is idempotency_key for dependency in route.dependant.dependencies
    )


class Idempotency:
    """ASGI middleware: idempotency keys on the routes that declare :data:`IDEMPOTENT`. It sits
    inside the compression (answers are kept as the app wrote them) and the body limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None or not any(
            "POST" in methods and _idempotent(route)
            for route, _, methods in routes_at(scope["app"].routes, scope)
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except HTTPException as exc:  # the body limit: answered here, as the route would have
            await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, receive, send)
            return
        store: SessionStore = scope["app"].state.store
        record, mark = record_key(scope, key), fingerprint(scope, body)
        try:
            found = await run_in_threadpool(claim, store, record, mark)
        except Exception as exc:  # the store cannot be reached: nothing ran
            unavailable = JSONResponse(
                {"detail": f"the session store is not reachable ({type(exc).__name__}); try again"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await unavailable(scope, receive, send)
            return
        if found is not None:
            await reply_to_retry(found, mark)(scope, receive, send)
            return
        await self._run(scope, receive, send, body, (store, record, mark))

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, held: tuple[SessionStore, str, bytes]
    ) -> None:
        """Run the request on the body already read, keep its answer, then send it."""
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replayed() -> Message:
            return pending.pop() if pending else await receive()

        messages: list[Message] = []

        async def kept(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replayed, kept)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(release, *held)
            raise
        answer = _answer_of(messages)
        with anyio.CancelScope(shield=True):  # kept even if the client has gone: a retry will ask
            if answer.status >= 500 or answer.status == 429:
                await run_in_threadpool(release, *held)
            else:
                await run_in_threadpool(finish, *held, answer)
        for message in messages:
            await send(message)


def _key_of(scope: Scope) -> str | None:
    """The request's key, if it is a POST that carries a well-formed one (a malformed one is left
    to the route, which refuses it: 422 naming the header)."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            key = value.decode("latin-1")
            return key if _KEY.fullmatch(key) else None
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _answer_of(messages: list[Message]) -> Answer:
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in start.get("headers", [])
        if name.decode("latin-1").lower() in KEPT_HEADERS
    )
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(int(start["status"]), headers, body)
