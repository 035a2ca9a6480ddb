"""How the page's routes answer: the regions a change shows (htmx) or a redirect back to the page
(a plain form), a refusal with its reason, a lost session, a new session opened, and a visitor's
first action (a visit stores no session: the network shown is kept when the visitor first acts,
and the whole page loads again carrying its id).

Every control of the page is a plain form that POSTs and is redirected (303) back to the page,
so the page works with JavaScript off; with htmx the same request answers with only the regions
that changed (see :mod:`app.web.templating`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app import session
from app.diagram_geometry import ORIENTATIONS, Orientation
from app.errors import SessionNotFoundError
from app.session import Session
from app.store import SessionStore
from app.web.deps import COOKIE, cookie_session, get_runs, set_cookie
from app.web.errors import REFUSALS, retry_headers, status_of
from app.web.rate_limit import check_new_session
from app.web.schemas import CreateSession
from app.web.services import UNSAVED, create_session, unsaved_session
from app.web.templating import Shown, is_htmx, own_region, regions_of, render_page, render_regions
from app.web.views import page, panel
from app.web.views.panel import View

#: The header the page's script adds to every htmx request: the drawing its screen shows.
ORIENTATION_HEADER = "BPV-Orientation"


def orientations_of(request: Request) -> tuple[Orientation, ...]:
    """The drawings to build: the one an htmx request says its screen shows, else both (a whole
    page, where CSS picks one by the window's width)."""
    asked = request.headers.get(ORIENTATION_HEADER, "")
    for orientation in ORIENTATIONS:
        if asked == orientation and is_htmx(request):
            return (orientation,)
    return ORIENTATIONS


def page_context(
    request: Request,
    current: Session,
    view: View | None = None,
    *,
    regions: Collection[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The page's context (:func:`app.web.views.page.context`) for ``regions`` (None: the whole
    page), with the session's latest run when the Train tab shows it (a caller that read the run
    before loading the session passes it as ``run``)."""
    view = view or View()
    if "run" in extra:
        run = extra.pop("run")
    else:
        needs_run = view.tab == "train" and (regions is None or "panel" in regions)
        run = get_runs(request).status(current.id) if needs_run and current.id != UNSAVED else None
    return page.context(
        current,
        view,
        run=run,
        version=current.stamp,
        regions=regions,
        orientations=orientations_of(request),
        **extra,
    )


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
    request: Request,
    current: Session,
    view: View,
    *,
    shown: Shown,
    own: str,
    status_code: int = 200,
    tab: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """For htmx the regions that show ``shown`` (``own``, the route's target, first), built alone;
    otherwise the whole page (a refusal, which a redirect would lose). ``tab``: the open tab's own
    context in place of the one the view gives it (a form shown again with its messages)."""
    if is_htmx(request):
        own = own_region(request, own)
        context = page_context(request, current, view, regions=regions_of(shown, own), **extra)
        context.update(tab or {})
        return render_regions(context, shown, own, status_code)
    context = page_context(request, current, view, **extra)
    context.update(tab or {})
    return render_page(context, status_code)


def show_tab(
    request: Request, current: Session, view: View, tab: dict[str, Any], status_code: int
) -> Response:
    """The panel (htmx) or the whole page, with the open tab's own context ``tab`` in place of
    the one :func:`page_context` gives it: a form shown again with its messages, a share link."""
    return show(request, current, view, shown="form", own="panel", status_code=status_code, tab=tab)


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
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return first_change(request, store, change, view, own=own, substep=substep)
    if change is session.reset:
        # A background run would go on training the session after it was reset.
        get_runs(request).stop(session_id)
    try:
        current = store.update(session_id, change)
    except SessionNotFoundError:
        # Gone (expired, evicted, or never this server's): like a first visit.
        return first_change(request, store, change, view, own=own, substep=substep)
    except REFUSALS as exc:
        return _refused(request, store, session_id, view, own, exc)
    if substep:
        # A sub-step opens the derivation of what it just computed.
        view = view.but(tab="work", select=panel.auto_select(current), answer="")
    if is_htmx(request):
        return show(request, current, view, shown="session", own=own)
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
    response = show(
        request, current, view, shown="notice", own=own, status_code=status_of(exc), notice=str(exc)
    )
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
