"""The step-through page's own routes: the page, the panel, the sample form, the step buttons
and the watch of a page left open while the API drives its session. The tabs' forms have their
routes in ``data_tab``, ``train_tab``, ``network_tab`` and ``share_links``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app import session
from app.errors import SessionNotFoundError
from app.limits import LEARNING_RATE, VALUE
from app.session import Session
from app.store import SessionStore
from app.web.deps import COOKIE, SameOrigin, Store, cookie_session
from app.web.forms import number_field, read_form
from app.web.quick import run_quick
from app.web.responses import answer_change, back_to_page, lost_session, page_context, page_session, show
from app.web.services import unsaved_session
from app.web.templating import is_htmx, regions_of, render_page, render_regions
from app.web.views.page import sample_fields
from app.web.views.panel import View

router = APIRouter(include_in_schema=False)

#: What each button of the controls does.
ACTIONS: dict[str, Callable[[Session], Session]] = {
    "forward": session.run_forward,
    "backward": session.run_backward,
    "update": session.run_update,
    "step": session.run_step,
    "substep": session.run_substep,
    "undo": session.undo,
}


@router.get("/")
def page(request: Request, store: Store) -> Response:
    """The page of the cookie's session; without one, the default network, kept only once the
    visitor acts (see :func:`app.web.responses.first_change`): a visit alone stores nothing."""
    current = cookie_session(request, store)
    response = render_page(
        page_context(request, current or unsaved_session(), View.parse(request.query_params))
    )
    if current is None and request.cookies.get(COOKIE):
        # Its session is gone: forget it, or the page's watch would keep asking for it.
        response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/page/panel")
def show_panel(request: Request, store: Store) -> Response:
    """Open a tab, select a quantity, check an answer: the panel (and the selection in the diagram)."""
    view = View.parse(request.query_params)
    if not is_htmx(request):
        return back_to_page(view.but(answer=""))
    current = page_session(request, store)
    return show(request, current, view, shown="view", own="panel")


@router.post("/page/sample")
async def sample(request: Request, store: Store, _: SameOrigin) -> Response:
    """The form of inputs, targets and learning rate; invalid values are shown next to their field."""
    current = await run_in_threadpool(page_session, request, store)
    values = (await read_form(request)).require().fields
    inputs, targets, _eta = sample_fields(current)
    numbers: dict[str, float] = {}
    errors: dict[str, str] = {}
    for field in (*inputs, *targets):
        value, error = number_field(values.get(field.name), field.label, VALUE)
        if error:
            errors[field.name] = error
        elif value is not None:
            numbers[field.name] = value
    eta, error = number_field(values.get("eta"), "η (learning rate)", LEARNING_RATE)
    if error:
        errors["eta"] = error
    view = View.parse(values)
    if errors or eta is None:
        return show(
            request, current, view, shown="form", own="sample", status_code=422, values=values, errors=errors
        )
    new_input = [numbers[f.name] for f in inputs]
    new_target = [numbers[f.name] for f in targets]

    def change(s: Session) -> Session:
        return session.edit(s, input=new_input, target=new_target, learning_rate=eta)

    return await run_in_threadpool(answer_change, request, store, change, view, own="sample")


@router.get("/page/watch")
async def watch(request: Request, store: Store, v: str = "") -> Response:
    """For a page left open while the API drives its session: 204 if nothing changed (one small
    read of the store's version, no session loaded), else the regions."""
    unchanged = Response(status_code=204, headers={"Vary": "HX-Request, Cookie", "Cache-Control": "no-store"})
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return unchanged  # no session yet: nothing but the visitor can change what the page shows
    try:
        version = await run_quick(store.stamp, session_id)
    except SessionNotFoundError:
        return lost_session(request)
    if str(version) == v:
        return unchanged
    return await run_quick(_changed, request, store, View.parse(request.query_params))


def _changed(request: Request, store: SessionStore, view: View) -> Response:
    current = cookie_session(request, store)
    if current is None:
        return lost_session(request)
    # The watch element (in the status) swaps nothing itself (hx-swap="none"): every region comes
    # out of band, the status with the new version first, so the next poll answers 204 again.
    context = page_context(request, current, view, regions=regions_of("poll", "status"))
    return render_regions(context, "poll", "status", swapped=False)


@router.post("/page/reset")
async def reset(request: Request, store: Store, _: SameOrigin) -> Response:
    """Back to the start, once confirmed: without ``confirmed=1`` the controls ask first (htmx:
    the controls alone; otherwise the page with them). The API's reset does not ask."""
    values = (await read_form(request)).require().fields
    view = View.parse(values)
    if values.get("confirmed") == "1":
        return await run_in_threadpool(answer_change, request, store, session.reset, view, own="diagram")
    current = await run_in_threadpool(cookie_session, request, store)
    if current is None:
        return lost_session(request)
    return show(request, current, view, shown="form", own="controls", confirm="reset")


# Last, so that the fixed /page/... routes above (and the tabs') take precedence.
@router.post("/page/{action}")
async def act(action: str, request: Request, store: Store, _: SameOrigin) -> Response:
    """Forward, Backward, Update, Step, Sub-step, Undo from the page's buttons (Reset: above)."""
    change = ACTIONS.get(action)
    if change is None:
        raise HTTPException(404, f"no such action: {action}")
    view = View.parse((await read_form(request)).require().fields)
    return await run_quick(
        answer_change, request, store, change, view, own="diagram", substep=action == "substep"
    )
