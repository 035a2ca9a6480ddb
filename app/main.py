"""The application: ``create_app()`` wires settings, the store, the runs, the API and the page.

Run with ``uvicorn app.main:app`` from the repository root, or ``backprop-viz --host --port``.
Everything the server does is in ``app/web/`` (HTTP) over the core in ``app/``; see
docs/architecture.md.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.paths import STATIC, VENDOR
from app.settings import Settings
from app.store import SessionStore, open_store
from app.training import Runs
from app.web import api, data_tab, errors, network_tab, pages, share_links, train_tab
from app.web.body_limit import BodyLimit

DESCRIPTION = """
Step through backpropagation one phase at a time — forward, backward, update — on a small
network kept per session. Notation and indices follow MATH.md: `weights[l][i][j]` joins unit i
of layer l to unit j of layer l+1; `activations[0]` is the input.

Errors: 404 unknown session, 409 a step out of order (the `detail` says which step comes first),
422 invalid input (the `detail` says what is wrong). A refused request changes nothing.
"""


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
    errors.install(app)

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
    for routes in (data_tab, train_tab, network_tab, share_links):
        app.include_router(routes.router)
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
