"""What routes get through FastAPI's dependencies: the store, the training runs, the training
processes and the settings of the app, the page's session (from its cookie), and the same-origin
check of the page's forms."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response

from app.errors import SessionNotFoundError
from app.session import Session
from app.settings import Settings
from app.store import SessionStore
from app.train_pool import TrainingPool
from app.training import Runs

#: The cookie that carries the page's session id.
COOKIE = "bpv_session"


def get_store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.store
    return store


def get_runs(request: Request) -> Runs:
    runs: Runs = request.app.state.runs
    return runs


def get_pool(request: Request) -> TrainingPool:
    pool: TrainingPool = request.app.state.pool
    return pool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def public_base(request: Request) -> str:
    """Where the links the server hands out point, without a trailing slash: BACKPROP_PUBLIC_URL
    when it is set, else the scheme and host the request was sent to (an answer carrying such a
    link must not be cached: another request may name another host)."""
    return get_settings(request).public_url or str(request.base_url).rstrip("/")


# The dependencies themselves are coroutines: FastAPI runs a plain function dependency in its
# thread pool, which for a lookup like these costs more than the lookup (a thread hop per request).


async def _store(request: Request) -> SessionStore:
    return get_store(request)


async def _runs(request: Request) -> Runs:
    return get_runs(request)


async def _pool(request: Request) -> TrainingPool:
    return get_pool(request)


async def _settings(request: Request) -> Settings:
    return get_settings(request)


def no_store(response: Response) -> None:
    """Answers that carry a session's numbers or links to it: no cache may keep them."""
    response.headers["Cache-Control"] = "no-store"


Store = Annotated[SessionStore, Depends(_store)]
TrainingRuns = Annotated[Runs, Depends(_runs)]
Trainers = Annotated[TrainingPool, Depends(_pool)]
AppSettings = Annotated[Settings, Depends(_settings)]


def same_origin(request: Request) -> None:
    """Refuse a state-changing request sent by another site (CSRF): 403 with a reason."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site request refused")
    origin = request.headers.get("origin")
    if origin is None:
        return  # not sent by browsers for same-origin GET-initiated navigations of old; nothing to compare
    host = request.headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc != host:
        raise HTTPException(403, f"request from a foreign origin refused: {origin}")


SameOrigin = Annotated[None, Depends(same_origin)]


def cookie_session(request: Request, store: SessionStore) -> Session | None:
    """The session whose id the cookie carries, if this server issued it and it still exists."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    try:
        return store.get(session_id)
    except SessionNotFoundError:
        return None


def set_cookie(response: Response, request: Request, current: Session) -> None:
    """Make ``current`` the page's session.

    When another site may frame the pages (BACKPROP_FRAME_ANCESTORS), the cookie must reach this
    server from inside that site's frame: ``SameSite=None; Secure; Partitioned`` (a cookie of its
    own per embedding site, over HTTPS only). Cross-site writes are then stopped by the Origin
    checks (``same_origin`` here, app/web/origins.py for the API), not by SameSite.
    """
    framed = get_settings(request).framed_by_others
    response.set_cookie(
        COOKIE,
        current.id,
        max_age=int(get_settings(request).session_ttl),
        httponly=True,
        samesite="none" if framed else "lax",
        secure=framed or request.url.scheme == "https",
        path="/",
    )
    if framed:
        # Starlette writes Partitioned only on Python 3.14 and later (http.cookies learnt it then).
        name, value = response.raw_headers[-1]
        response.raw_headers[-1] = (name, value + b"; Partitioned")
