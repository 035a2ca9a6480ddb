"""Share links in the page: make one of the session as it is now (the Network tab), and open one.

Opening a link makes a fresh session with the link's configuration, data and weights, and moves
the page's cookie to it. A link that does not open shows the page (of the visitor's own session,
or a new one) with the reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app import share
from app.errors import BadShareLinkError, InvalidInputError
from app.web.deps import SameOrigin, Store, cookie_session, public_base, set_cookie
from app.web.responses import lost_session, opened, page_context, show_tab
from app.web.schemas import CreateSession
from app.web.services import create_from_fields, create_session
from app.web.templating import environment, html_response, render_page
from app.web.views import network
from app.web.views.network import share_link, tab_view
from app.web.views.panel import View

router = APIRouter(include_in_schema=False)


@router.get("/page/network/share")
async def show_share_link(request: Request, store: Store) -> Response:
    """The Network tab with a share link of the session as it is now."""
    current = await run_in_threadpool(cookie_session, request, store)
    if current is None:
        return lost_session(request)
    view = tab_view(request.query_params)
    link = share_link(public_base(request), current)
    response = show_tab(request, current, view, network.context(current, view, share_link=link), 200)
    response.headers["Cache-Control"] = "no-store"  # the link names the host asked
    return response


@router.get("/share/{token}")
async def open_share_link(token: str, request: Request, store: Store) -> Response:
    """A fresh session from a share link: the cookie moves to it and the page shows it.

    Followed from another site (Sec-Fetch-Site: cross-site), the link first asks: a foreign page
    must not be able to swap a student's network behind their back. Typed, bookmarked or
    followed from this site, it opens at once.
    """
    try:
        fields = share.decode(token)
    except BadShareLinkError as exc:
        return await _bad_link(request, store, str(exc))
    if request.headers.get("sec-fetch-site") == "cross-site":
        html = environment.get_template("share.html").render(token=token, fields=fields)
        return html_response(html)
    return await _open_shared(request, store, fields)


@router.post("/share/{token}")
async def confirm_share_link(token: str, request: Request, store: Store, _: SameOrigin) -> Response:
    """The confirmation of a share link followed from another site."""
    try:
        fields = share.decode(token)
    except BadShareLinkError as exc:
        return await _bad_link(request, store, str(exc))
    return await _open_shared(request, store, fields)


async def _open_shared(request: Request, store: Store, fields: dict[str, Any]) -> Response:
    try:
        new = await run_in_threadpool(create_from_fields, store, fields)
    except InvalidInputError as exc:
        return await _bad_link(request, store, str(exc))
    return opened(request, new, View())


async def _bad_link(request: Request, store: Store, reason: str) -> Response:
    """The page (of the visitor's own session, or a new one) saying why the link did not open."""
    current = await run_in_threadpool(cookie_session, request, store)
    created = current is None
    if current is None:
        current = await run_in_threadpool(create_session, store, CreateSession())
    context = page_context(
        request, current, View(tab="network"), notice=f"This share link cannot be opened: {reason}"
    )
    response = render_page(context, 422)
    if created:
        set_cookie(response, request, current)
    return response
