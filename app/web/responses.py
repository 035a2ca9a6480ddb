"""How the page's routes answer: the regions a change shows (htmx) or a redirect back to the page
(a plain form), a refusal with its reason, a lost session, a new session opened, and a visitor's
first action (a visit stores no session: the network shown is kept when the visitor first acts,
and the whole page loads again carrying its id).

Every control of the page is a plain form that POSTs and is redirected (303) back to the page,
so the page works with JavaScript off; with htmx the same request answers with only the regions
that changed (see :mod:`app.web.templating`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app import session
from app.errors import SessionNotFoundError
from app.session import Session
from app.store import SessionStore
from app.web.deps import cookie_session, get_runs, set_cookie
from app.web.errors import REFUSALS, retry_headers, status_of
from app.web.rate_limit import check_new_session
from app.web.schemas import CreateSession
from app.web.services import UNSAVED, create_session, unsaved_session
from app.web.templating import Shown, is_htmx, own_region, render_page, render_regions
from app.web.views import page, panel
from app.web.views.panel import View


def page_context(
    request: Request, current: Session, view: View | None = None, **extra: Any
) -> dict[str, Any]:
    """The page's context (:func:`app.web.views.page.context`) with the session's latest run (a
    caller that read it before loading the session passes it as ``run``)."""
    if "run" in extra:
        run = extra.pop("run")
    else:
        run = get_runs(request).status(current.id) if current.id != UNSAVED else None
    return page.context(current, view, run=run, version=current.stamp, **extra)


def page_session(request: Request, store: SessionStore) -> Session:
    """The cookie's session; without one (none yet, or it is gone) the default network, unsaved:
    a visit stores nothing until the visitor acts."""
    return cookie_session(request, store) or unsaved_session()


def keep_new(request: Request, store: SessionStore, make: Callable[[SessionStore], Session]) -> Session:
    """A new session for the page, made and kept by ``make`` once the client's address may have
    another (TooManyRequestsError when not; StoreFullError when the store has no room)."""
    check_new_session(request)
    return make(store)


def keep_shown(store: SessionStore) -> Session:
    """Keep the unsaved network a visitor was shown (the same numbers, a new id)."""
    return create_session(store, CreateSession())


def show(
    request: Request, context: dict[str, Any], *, shown: Shown, own: str, status_code: int = 200
) -> Response:
    """For htmx the regions that show ``shown`` (``own``, the route's target, first); otherwise
    the whole page (a refusal, which a redirect would lose)."""
    if is_htmx(request):
        return render_regions(context, shown, own_region(request, own), status_code)
    return render_page(context, status_code)


def show_tab(
    request: Request, current: Session, view: View, tab: dict[str, Any], status_code: int
) -> Response:
    """The panel (htmx) or the whole page, with the open tab's own context ``tab`` in place of
    the one :func:`page_context` gives it: a form shown again with its messages, a share link."""
    context = page_context(request, current, view)
    context.update(tab)
    return show(request, context, shown="form", own="panel", status_code=status_code)


def back_to_page(view: View) -> Response:
    """A plain form's answer: the page again, with the panel as it was."""
    return RedirectResponse("/" + view.query, status_code=303)


def lost_session(request: Request) -> Response:
    """The cookie's session is gone (expired, or never ours): start again from the page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": "/"})
    return RedirectResponse("/", status_code=303)


def opened(request: Request, new: Session, view: View) -> Response:
    """The page now shows ``new``: the cookie moves to it and the whole page is loaded again."""
    target = "/" + view.query
    response: Response
    if is_htmx(request):
        # Everything on the page changes (even the title and the session link): a full load.
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, new)
    return response


def answer_change(
    request: Request,
    store: SessionStore,
    change: Callable[[Session], Session],
    view: View,
    *,
    own: str,
    substep: bool = False,
) -> Response:
    """Apply ``change`` to the cookie's session atomically and answer with every region that
    shows the session (``own``, the route's target, first), or a redirect to the page; a refused
    change shows its reason in the status with its status code, and changes nothing."""
    current = cookie_session(request, store)
    if current is None:
        return first_change(request, store, change, view, own=own, substep=substep)
    if change is session.reset:
        # A background run would go on training the session after it was reset.
        get_runs(request).stop(current.id)
    try:
        current = store.update(current.id, change)
    except SessionNotFoundError:
        return lost_session(request)
    except REFUSALS as exc:
        return _refused(request, store, current.id, view, own, exc)
    if substep:
        # A sub-step opens the derivation of what it just computed.
        view = view.but(tab="work", select=panel.auto_select(current), answer="")
    if is_htmx(request):
        return render_regions(page_context(request, current, view), "session", own_region(request, own))
    return back_to_page(view)


def first_change(
    request: Request,
    store: SessionStore,
    change: Callable[[Session], Session],
    view: View,
    *,
    own: str,
    substep: bool = False,
) -> Response:
    """A visitor's first action: the network they were shown is kept now (if their address may
    make another session), ``change`` applied to it, and the whole page loaded again with the
    cookie on it, so every element that carries the session's id has the new one. A refused
    change leaves the new session as it was made."""
    try:
        new = keep_new(request, store, keep_shown)
    except REFUSALS as exc:
        return refusal(request, unsaved_session(), view, own, exc)
    try:
        new = store.update(new.id, change)
    except SessionNotFoundError:
        return lost_session(request)
    except REFUSALS:
        pass
    else:
        if substep:
            view = view.but(tab="work", select=panel.auto_select(new), answer="")
    return opened(request, new, view)


def refusal(request: Request, current: Session, view: View, own: str, exc: Exception) -> Response:
    """The page (or the regions that show the notice) saying why ``exc`` refused the request,
    with its status (and when to try again, for a busy refusal)."""
    context = page_context(request, current, view, notice=str(exc))
    response = show(request, context, shown="notice", own=own, status_code=status_of(exc))
    response.headers.update(retry_headers(exc))
    return response


def _refused(
    request: Request, store: SessionStore, session_id: str, view: View, own: str, exc: Exception
) -> Response:
    try:
        current = store.get(session_id)
    except SessionNotFoundError:
        return lost_session(request)
    return refusal(request, current, view, own, exc)
