"""The application: ``create_app()`` wires settings, the store, the runs, the API and the page.

Run with ``backprop-viz`` (app/cli.py), or ``uvicorn app.main:app`` from the repository root.
Everything the server does is in ``app/web/`` (HTTP) over the core in ``app/``; see
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app import issued_sheets
from app.resources import STATIC, VENDOR
from app.settings import Settings
from app.store import SessionStore, open_store
from app.train_pool import TrainingPool
from app.training import Runs
from app.web import (
    api,
    api_docs,
    data_tab,
    errors,
    follow,
    logs,
    metrics,
    network_tab,
    notebook_api,
    origins,
    pages,
    share_links,
    sheets_api,
    sheets_pages,
    train_tab,
    working_api,
)
from app.web.allow import AllowHeader
from app.web.body_limit import BodyLimit
from app.web.contract import TAGS, operation_id
from app.web.embedding import FrameAncestors
from app.web.idempotency import Idempotency
from app.web.rate_limit import NewSessions
from app.web.replies import Health, Readiness

#: The API's version: 2 since a session's state carries `loss_count` and `recent_losses` instead of
#: the whole `loss_history` (read it with GET /api/sessions/{id}/losses).
API_VERSION = "2.0.0"

DESCRIPTION = """
Step through backpropagation one phase at a time — forward, backward, update — on a small
network kept per session. Notation and indices follow MATH.md: `weights[l][i][j]` joins unit i
of layer l to unit j of layer l+1; `activations[0]` is the input.

Every operation lists the statuses it can answer. In short: 404 unknown session; 409 a step out of
order (the `detail` says which step comes first); 422 invalid input (the `detail` names the field,
the first 20 errors are listed with `error_count`), a body that is not UTF-8 JSON included; 413 a
body too large; 403 a write from a foreign `Origin`; 429 and 503 come with `Retry-After`. A
refused request changes nothing. POSTs that change a session take an `Idempotency-Key` header: a
retry with the same key gets the first answer and changes nothing twice.
"""


def create_app(
    settings: Settings | None = None, store: SessionStore | None = None, pool: TrainingPool | None = None
) -> FastAPI:
    """The ASGI application. ``store`` overrides the one the settings choose, ``pool`` the training
    processes it would start (tests share one; the app does not stop a pool it was given)."""
    settings = settings or Settings.from_env()
    own_pool = pool is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.live.close()
        app.state.runs.shutdown()
        if own_pool:
            app.state.pool.shutdown()
        app.state.store.close()

    app = FastAPI(
        title="Backprop Visualizer",
        description=DESCRIPTION,
        version=API_VERSION,
        lifespan=lifespan,
        docs_url=None,  # app/web/api_docs.py: our own copy of Swagger UI, under a CSP
        redoc_url=None,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.store = store if store is not None else open_store(settings)
    # Long trainings are computed in worker processes (started on first use), never in this one.
    app.state.pool = pool if pool is not None else TrainingPool(settings.train_slots)
    # Background training runs from the page (and the runs API), coordinated through the store.
    app.state.runs = Runs(app.state.store, pool=app.state.pool)
    # Followers of sessions connected to this process, each session's changes rendered once for all.
    app.state.live = follow.make_hub(app.state.store)
    # New sessions per client address (None: no limit).
    app.state.new_sessions = NewSessions.of(settings)
    # Exercise sheets, kept like sessions (in the store's records, with the same expiry).
    app.state.sheets = issued_sheets.Sheets.open(app.state.store, settings.session_ttl)

    # Innermost first: idempotency keeps answers as the app wrote them (before compression), inside
    # the body limit; a write from a foreign origin is refused before anything else (CORS outside).
    app.add_middleware(Idempotency)
    # Steps answer with several regions of SVG (decision maps, the loss curve): gzip them.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(BodyLimit)
    app.add_middleware(AllowHeader)
    app.add_middleware(FrameAncestors, sources=settings.frame_ancestors)
    origins.install(app, settings.allowed_origins)
    errors.install(app)

    @app.get("/healthz", tags=["meta"], response_model=Health)
    def healthz() -> Health:
        """Liveness: the process answers (it checks nothing else, so it costs nothing)."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["meta"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "The session store is unreachable"}},
    )
    def readyz() -> JSONResponse:
        """Readiness: the session store answers; 503 with the reason when it does not."""
        try:
            app.state.store.ping()
        except Exception as exc:  # whatever the backend raises, this process cannot serve sessions now
            detail = f"the session store is not reachable: {type(exc).__name__}: {exc}"
            return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
        return JSONResponse({"status": "ok"})

    for routes in (api, working_api, notebook_api, sheets_api, sheets_pages, api_docs):
        app.include_router(routes.router)
    # The tabs' routers first: pages.router ends with the catch-all POST /page/{action}.
    for routes in (data_tab, train_tab, network_tab, share_links, follow):
        app.include_router(routes.router)
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
