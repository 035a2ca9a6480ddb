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
from app.errors import BadShareLinkError
from app.web.deps import SameOrigin, Store, public_base
from app.web.errors import REFUSALS, retry_headers, status_of
from app.web.responses import keep_new, opened, page_context, page_session, show_tab
from app.web.services import create_from_fields
from app.web.templating import environment, html_response, render_page
from app.web.views import network
from app.web.views.network import share_link, tab_view
from app.web.views.panel import View

router = APIRouter(include_in_schema=False)


@router.get("/page/network/share")
async def show_share_link(request: Request, store: Store) -> Response:
    """The Network tab with a share link of the session as it is now."""
    current = await run_in_threadpool(page_session, request, store)
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
        new = await run_in_threadpool(keep_new, request, store, lambda kept: create_from_fields(kept, fields))
    except REFUSALS as exc:  # a link whose numbers cannot be used; too many new sessions; no room
        response = await _bad_link(request, store, str(exc), status_of(exc))
        response.headers.update(retry_headers(exc))
        return response
    return opened(request, new, View())


async def _bad_link(request: Request, store: Store, reason: str, status_code: int = 422) -> Response:
    """The page (of the visitor's own session, or the default network) saying why the link did
    not open."""
    current = await run_in_threadpool(page_session, request, store)
    context = page_context(
        request, current, View(tab="network"), notice=f"This share link cannot be opened: {reason}"
    )
    return render_page(context, status_code)
