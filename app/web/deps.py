"""What routes get through FastAPI's dependencies: the store, the training runs and the settings
of the app, the page's session (from its cookie), and the same-origin check of the page's forms."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response

from app.errors import SessionNotFoundError
from app.session import Session
from app.settings import Settings
from app.store import SessionStore
from app.training import Runs

#: The cookie that carries the page's session id.
COOKIE = "bpv_session"


def get_store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.store
    return store


def get_runs(request: Request) -> Runs:
    runs: Runs = request.app.state.runs
    return runs


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Store = Annotated[SessionStore, Depends(get_store)]
TrainingRuns = Annotated[Runs, Depends(get_runs)]
AppSettings = Annotated[Settings, Depends(get_settings)]


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
