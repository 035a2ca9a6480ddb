"""The application: ``create_app()`` wires settings, the store, the API and the pages.

Run with ``uvicorn app.main:app`` from the repository root, or ``backprop-viz --host --port``.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from app import api, data_tab, network_tab, pages, train_tab
from app.errors import (
    DivergenceError,
    InvalidInputError,
    NotKeptError,
    PhaseError,
    SessionNotFoundError,
    StoreBusyError,
)
from app.limits import MAX_BODY_BYTES
from app.settings import Settings
from app.store import SessionStore, open_store
from app.templating import ROOT
from app.training import Runs

STATIC = ROOT / "static"
#: Front-end packages from the npm registry (package-lock.json), served by the app itself.
NODE_MODULES = ROOT / "node_modules"
VENDOR = {
    "htmx": NODE_MODULES / "htmx.org" / "dist",
    "swagger-ui": NODE_MODULES / "swagger-ui-dist",
}

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


class BodyLimit:
    """Refuse a request whose declared body is larger than MAX_BODY_BYTES (413), unread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                    response = JSONResponse(
                        {"detail": f"the request body is larger than {MAX_BODY_BYTES // 2**20} MB"},
                        status_code=413,
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


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
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served below from our own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store if store is not None else open_store(settings)
    app.state.runs = Runs()  # background training runs from the page (and the runs API)

    # Steps answer with several regions of SVG (decision maps, the loss curve): gzip them.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimit)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DivergenceError, _status_for(409))
    app.add_exception_handler(InvalidInputError, _status_for(422))
    app.add_exception_handler(PhaseError, _status_for(409))
    app.add_exception_handler(SessionNotFoundError, _status_for(404))
    app.add_exception_handler(NotKeptError, _status_for(404))
    # The SQLite file locked by another process for longer than its timeout: busy, not broken.
    app.add_exception_handler(StoreBusyError, _status_for(503))
    app.add_exception_handler(sqlite3.OperationalError, _busy)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

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
        # check_dir=False: without `npm ci` the server still starts; the page then works without
        # JavaScript (every control is a plain form) and the vendor URLs answer 404.
        app.mount(f"/vendor/{name}", StaticFiles(directory=directory, check_dir=False), name=f"vendor-{name}")
    return app


def cli(argv: Sequence[str] | None = None) -> None:
    """``backprop-viz``: start the server."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="backprop-viz", description="Serve the Backprop Visualizer.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    args = parser.parse_args(argv)
    uvicorn.run("app.main:app", host=args.host, port=args.port)


app = create_app()
