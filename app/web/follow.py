"""The follow view's routes: the read-only view of a session under its follow id, its stream of
server-sent events, and the presenter's "Follow link" (the address and its QR code).

Nothing here writes a session: every route is a GET, and a follow id opens nothing else (the API
and the page's routes take session ids, which it is not). Updates reach followers through the
process's :class:`app.web.live.Hub`, which renders each change once (:func:`render_update`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from app import follow
from app.errors import SessionNotFoundError
from app.store import SessionStore
from app.web.deps import AppSettings, Store, cookie_session
from app.web.follow_links import follow_link
from app.web.live import Hub
from app.web.responses import lost_session
from app.web.templating import PAGE, environment, html_response, is_htmx, render_fragment
from app.web.views import follow as follow_view

router = APIRouter(include_in_schema=False)

FOLLOW_PAGE = "follow.html"
#: Seconds between keep-alive comments on an idle stream (proxies close silent connections).
PING_SECONDS = 15.0
#: A follower whose connection takes longer than this to accept one event is dropped.
SEND_SECONDS = 10.0
#: What a follower's view becomes once the session has gone (the stream's last event).
GONE = (
    '<p class="follow-gone" role="status">This session has ended (or expired): '
    "there is nothing more to follow.</p>"
)
#: How long a browser waits before reconnecting a dropped stream, in milliseconds.
RETRY_MS = 1000


def render_update(store: SessionStore, session_id: str) -> str:
    """The follow view of the session as it is now: what every follower's view becomes."""
    context = {**follow_view.context(store.get(session_id)), "oob": "follow-announce"}
    return render_fragment(FOLLOW_PAGE, "view", context)


def make_hub(store: SessionStore) -> Hub:
    """This process's hub of followers over ``store``."""
    return Hub(store.stamp, functools.partial(render_update, store))


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.live
    return hub


def _not_found() -> Response:
    html = environment.get_template("follow_missing.html").render()
    return html_response(html, 404)


@router.get("/follow/{follow_id}")
async def follow_page(follow_id: str, store: Store, settings: AppSettings) -> Response:
    """The presenter's session, read-only, kept current by the events below."""
    session_id = await run_in_threadpool(follow.session_of, store, follow_id, settings.session_ttl)
    if session_id is None:
        return _not_found()
    try:
        current = await run_in_threadpool(store.get, session_id)
    except SessionNotFoundError:
        return _not_found()
    context = {**follow_view.context(current), "follow_id": follow_id, "oob": ""}
    html = environment.get_template(FOLLOW_PAGE).render(context)
    response = html_response(html)
    # The address is the view's only key: never send it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/follow/{follow_id}/events")
async def follow_events(follow_id: str, request: Request, store: Store, settings: AppSettings) -> Response:
    """Server-sent events: "update" (the view as it is now) at once and after every change of the
    session, "gone" when it ends. 404 for a follow id that opens nothing."""
    session_id = await run_in_threadpool(follow.session_of, store, follow_id, settings.session_ttl)
    if session_id is None:
        raise HTTPException(404, "no session to follow here: the link is wrong or has expired")
    try:
        await run_in_threadpool(store.stamp, session_id)
    except SessionNotFoundError:
        raise HTTPException(404, "the session followed here has ended") from None
    hub = _hub(request)

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        async with hub.subscribe(session_id) as subscriber:
            while True:
                update = await subscriber.next()
                if update.event == "gone":
                    yield f"event: gone\ndata: {GONE}\n\n".encode()
                    return
                yield update.frame

    return EventSourceResponse(stream(), ping=PING_SECONDS, send_timeout=SEND_SECONDS)


@router.api_route("/follow/{follow_id}", methods=["POST", "PUT", "PATCH", "DELETE"])
@router.api_route("/follow/{follow_id}/{rest:path}", methods=["POST", "PUT", "PATCH", "DELETE"])
def refuse_writes(follow_id: str) -> Response:
    """A follow link only ever reads: 403 for any write, whatever the id."""
    raise HTTPException(403, "a follow link is read-only: it cannot change the session")


@router.get("/page/follow-link")
async def show_follow_link(request: Request, store: Store, hide: str = "") -> Response:
    """The presenter's follow link with its QR code: a region of the page (htmx) or a page of its
    own (without JavaScript); ``hide=1`` puts the region away again."""
    current = await run_in_threadpool(cookie_session, request, store)
    if current is None:
        return lost_session(request)
    if hide and is_htmx(request):
        return html_response(render_fragment(PAGE, "follow", {"follow_link": None, "oob": ""}))
    link = await run_in_threadpool(follow_link, request, current.id)
    if is_htmx(request):
        return html_response(render_fragment(PAGE, "follow", {"follow_link": link, "oob": ""}))
    return html_response(environment.get_template("follow_link.html").render(follow_link=link))
