"""The application: ``create_app()`` wires settings, the store, the API and the pages.

Run with ``backprop-viz`` (app/cli.py), or ``uvicorn app.main:app`` from the repository root.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import api, data_tab, logs, metrics, network_tab, pages, train_tab
from app.engine import DivergenceError, EngineError
from app.resources import STATIC, VENDOR
from app.session import NotKeptError, PhaseError
from app.settings import Settings
from app.store import SessionNotFoundError, SessionStore, StoreBusyError, open_store
from app.training import Runs

#: The API's version: 2 since a session's state carries `loss_count` and `recent_losses` instead of
#: the whole `loss_history` (read it with GET /api/sessions/{id}/losses).
API_VERSION = "2.0.0"

DESCRIPTION = """
Step through backpropagation one phase at a time — forward, backward, update — on a small
network kept per session. Notation and indices follow MATH.md: `weights[l][i][j]` joins unit i
of layer l to unit j of layer l+1; `activations[0]` is the input.

Errors: 404 unknown session, 409 a step out of order (the `detail` says which step comes first),
422 invalid input (the `detail` says what is wrong). A refused request changes nothing.
"""


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = str(error.get("msg", "invalid"))
    return f"{location}: {message}" if location else message


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    detail = "; ".join(_describe(e) for e in errors) or "invalid request"
    simple = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in errors]
    return JSONResponse({"detail": detail, "errors": simple}, status_code=422)


#: Largest request body the server reads, but for an import.
MAX_BODY_BYTES = 32 * 1024 * 1024


def body_limit(path: str) -> int:
    """The most bytes a request to ``path`` may send: an import may be a whole exported session."""
    return api.MAX_IMPORT_BYTES if path == api.IMPORT_PATH else MAX_BODY_BYTES


class BodyTooLargeError(HTTPException):
    """A request body past its limit: 413, and the rest of it is never read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 2**20} MB")


class BodyLimit:
    """Refuse a request body larger than its limit (413): a declared Content-Length at once, unread;
    a body sent in chunks (or with a false length) as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await JSONResponse({"detail": BodyTooLargeError(limit).detail}, status_code=413)(
                    scope, receive, send
                )
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counted, send)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"the session store is busy ({exc}); try again"}, status_code=503)


def _status_for(status: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


def create_app(settings: Settings | None = None, store: SessionStore | None = None) -> FastAPI:
    """The ASGI application. ``store`` overrides the one the settings choose (tests)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.runs.shutdown()
        app.state.store.close()

    app = FastAPI(
        title="Backprop Visualizer",
        description=DESCRIPTION,
        version=API_VERSION,
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store if store is not None else open_store(settings)
    # Background training runs from the page (and the runs API), coordinated through the store.
    app.state.runs = Runs(app.state.store)

    # Steps answer with several regions of SVG (decision maps, the loss curve): gzip them.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimit)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Order matters only for subclasses: DivergenceError is an EngineError but a 409.
    app.add_exception_handler(DivergenceError, _status_for(409))
    app.add_exception_handler(EngineError, _status_for(422))
    app.add_exception_handler(PhaseError, _status_for(409))
    app.add_exception_handler(SessionNotFoundError, _status_for(404))
    app.add_exception_handler(NotKeptError, _status_for(404))
    # The SQLite file locked by another process for longer than its timeout: busy, not broken.
    app.add_exception_handler(StoreBusyError, _status_for(503))
    app.add_exception_handler(sqlite3.OperationalError, _busy)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (it checks nothing else, so it costs nothing)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["meta"], responses={503: {"description": "the session store is unreachable"}})
    def readyz() -> JSONResponse:
        """Readiness: the session store answers; 503 with the reason when it does not."""
        try:
            app.state.store.ping()
        except Exception as exc:  # whatever the backend raises, this process cannot serve sessions now
            detail = f"the session store is not reachable: {type(exc).__name__}: {exc}"
            return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Backprop Visualizer API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.include_router(api.router)
    # The tabs' routers first: pages.router ends with the catch-all POST /page/{action}.
    for tab in (data_tab, train_tab, network_tab):
        app.include_router(tab.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name, directory in VENDOR.items():
        # Without `npm ci` the server still starts: the page then works without JavaScript (every
        # control is a plain form) and the vendor URLs, mounted on nothing, answer 404.
        if directory.is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=directory), name=f"vendor-{name}")
    metrics.install(app)  # last: it counts errors through the handlers registered above
    logs.install(app)
    return app


app = create_app()
