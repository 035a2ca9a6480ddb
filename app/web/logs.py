"""The server's logs: one access line per request and uvicorn's error log, as text or JSON lines.

A session id is a bearer credential (whoever has it can drive the session), so no log line carries
one in clear: requests are logged by route template (``/api/sessions/{session_id}/step``) with the
id's hash beside it, and every line is scrubbed of ids in paths and error messages.

``backprop-viz`` configures logging with :func:`uvicorn_log_config` and turns uvicorn's own access
log off (it logs raw paths); :func:`install` adds the app's access log, written to the
``backprop.access`` logger, which stays silent unless configured so (e.g. under plain ``uvicorn``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.logging import DefaultFormatter

from app.settings import LogFormat

ACCESS = logging.getLogger("backprop.access")

#: A request that matched no route: one label for all of them, whatever path was asked for.
UNMATCHED = "unmatched"


def session_hash(session_id: str) -> str:
    """What the logs say instead of a session id: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:12]


# A session id after /sessions/ in a path, or quoted after "session" in an error message
# (SessionNotFoundError's "no session 'abc'"); not a route's {session_id}, nor a #hash already.
_IDS = re.compile(
    r"(?P<before>/sessions/)(?P<id>[^/?#\s\"'{][^/?#\s\"']*)|(?P<quoted>session ')(?P<qid>[^'#][^']*)(?=')"
)


def scrub(text: str) -> str:
    """``text`` with every session id it names replaced by its hash."""

    def hashed(match: re.Match[str]) -> str:
        if match.group("before") is not None:
            return f"{match.group('before')}#{session_hash(match.group('id'))}"
        return f"{match.group('quoted')}#{session_hash(match.group('qid'))}"

    return _IDS.sub(hashed, text)


def route_template(scope: Scope) -> str:
    """The route that handled the request, as declared (``/api/sessions/{session_id}``), never the
    raw path: the label of a request in metrics and logs, with no id in it and a bounded number of
    values. Mounted files count as one route (``/static/{path}``)."""
    # A matched Mount leaves its prefix in root_path, after the root path the app was given.
    prefix = scope["root_path"][len(scope["app_root_path"]) :] if "app_root_path" in scope else ""
    route = scope.get("route")
    if route is not None:
        return prefix + str(getattr(route, "path_format", None) or getattr(route, "path", ""))
    return f"{prefix}/{{path}}" if prefix else UNMATCHED


class AccessLog:
    """ASGI middleware: one ``backprop.access`` record per HTTP request, when that logger is on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not ACCESS.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped the app

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            _log_access(scope, status, time.perf_counter() - start)


def _log_access(scope: Scope, status: int, seconds: float) -> None:
    route = route_template(scope)
    fields: dict[str, Any] = {
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
    }
    client = scope.get("client")
    if client:
        fields["client"] = client[0]
    session_id = scope.get("path_params", {}).get("session_id")
    if isinstance(session_id, str):
        fields["session"] = session_hash(session_id)
    if route == UNMATCHED:
        fields["path"] = scrub(scope["path"])
    where = fields.get("path", route)
    session = f" session=#{fields['session']}" if "session" in fields else ""
    ACCESS.info(
        '%s - "%s %s" %d %.1f ms%s',
        fields.get("client", "-"),
        fields["method"],
        where,
        status,
        seconds * 1000,
        session,
        extra={"access": fields},
    )


def install(app: FastAPI) -> None:
    """Log every request of ``app`` to ``backprop.access`` (outermost, so errors are logged too)."""
    app.add_middleware(AccessLog)


class TextFormatter(DefaultFormatter):
    """uvicorn's coloured ``INFO:     message`` lines, scrubbed of session ids."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the access fields, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update(access)
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = scrub(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


def uvicorn_log_config(log_format: LogFormat) -> dict[str, Any]:
    """``logging.config.dictConfig`` input for uvicorn (``log_config=``): its error log and the
    app's access log to stderr, in ``log_format``. Each worker process applies it too."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"()": f"{__name__}.TextFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": None}
    )
    stderr = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": stderr},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            # Off: it would log raw paths, session ids and all. backprop.access replaces it.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "backprop": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
