"""The step-through page: thin HTML routes over the same session functions as the API.

Every control is a plain form that POSTs and redirects (303) back to the page, so the page works
with JavaScript off; with htmx the same request answers with only the regions that changed.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app import diagram, panel, session
from app.api import Store, create_session
from app.errors import DivergenceError, InvalidInputError, PhaseError, SessionNotFoundError
from app.limits import MAX_ABS_VALUE, MAX_FORM_BYTES, MAX_LEARNING_RATE
from app.schemas import CreateSession
from app.session import PHASE_TABLE, Session
from app.store import SessionStore
from app.templating import is_htmx, render_out_of_band, render_page, render_regions

router = APIRouter(include_in_schema=False)

COOKIE = "bpv_session"
#: Regions a step changes: the diagram first (the request's target), the rest out of band.
STEP_REGIONS = ("diagram", "status", "controls", "sample", "panel")
#: Regions the sample form changes: the form first (its target, with any messages), then the
#: rest; the panel too, whose working or samples and decision maps show the new numbers.
SAMPLE_REGIONS = ("sample", "diagram", "status", "controls", "panel")
#: Regions a change of the panel's view touches: the panel, the selection in the diagram, and
#: the controls (which carry the view along with every step).
PANEL_REGIONS = ("panel", "diagram", "controls")


def tab_context(current: Session, view: panel.View) -> dict[str, Any]:
    """What the open tab adds to the page's context: the Data, Train and Network tabs each own
    theirs (they build on this module, so they are imported here, not at the top)."""
    from app import data_tab, network_tab, train_tab

    contexts: dict[str, Callable[[Session, panel.View], dict[str, Any]]] = {
        "data": data_tab.context,
        "train": train_tab.context,
        "network": network_tab.context,
    }
    return contexts[view.tab](current, view) if view.tab in contexts else {}


# --------------------------------------------------------------------------------------------
# Security: the page's state-changing requests must come from the page itself.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The session behind the page
# --------------------------------------------------------------------------------------------


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
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        current.id,
        max_age=int(settings.session_ttl),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def fingerprint(current: Session) -> str:
    """Changes whenever anything the page shows changes (so a watching page can refresh)."""
    digest = hashlib.sha1(usedforsecurity=False)
    progress = session.progress_of(current)
    digest.update(
        repr(
            (
                current.phase,
                current.step,
                progress,
                current.sample_index,
                current.config,
                current.substep_mode,
            )
        ).encode()
    )
    for array in (*current.params.weights, *current.params.biases, current.data.inputs, current.data.targets):
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# What the page shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # "done", "running", "next", "todo"


def stages(current: Session) -> tuple[Stage, ...]:
    order = PHASE_TABLE[current.phase].stages
    return tuple(
        Stage(name, state) for name, state in zip(("Forward", "Backward", "Update"), order, strict=True)
    )


def allowed(current: Session) -> dict[str, bool]:
    """Which buttons work now; the others are disabled."""
    rule = PHASE_TABLE[current.phase]
    return {
        "forward": True,
        "backward": rule.backward_refusal is None,
        "update": rule.update_refusal is None,
        "step": True,
        "substep": True,
        "reset": True,
        "undo": any(snap.step < current.step for snap in current.history),
    }


@dataclass(frozen=True)
class Field:
    """One input of the sample form."""

    name: str
    label: str
    value: str
    error: str | None


def sample_fields(
    current: Session, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> tuple[tuple[Field, ...], tuple[Field, ...], Field]:
    values, errors = values or {}, errors or {}

    def make(name: str, label: str, value: float) -> Field:
        return Field(name, label, values.get(name, repr(value)), errors.get(name))

    inputs = tuple(make(f"x{i + 1}", f"x{i + 1}", v) for i, v in enumerate(current.input))
    targets = tuple(make(f"t{j + 1}", f"t{j + 1}", v) for j, v in enumerate(current.target))
    return inputs, targets, make("eta", "η", current.config.learning_rate)


def context(
    current: Session,
    view: panel.View | None = None,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    request: Request | None = None,
) -> dict[str, Any]:
    view = view or panel.View()
    runs = getattr(request.app.state, "runs", None) if request is not None else None
    inputs, targets, eta = sample_fields(current, values, errors)
    return {
        "s": current,
        "view": view,
        "tabs": panel.TABS,
        "work": panel.work(current, view) if view.tab == "work" else None,
        "gradients": panel.gradients(current) if view.tab == "gradients" else None,
        # Each of these tabs adds what its template needs (only when it is open).
        **tab_context(current, view),
        # Not the API's state_of(): that copies the whole loss history, which the page never shows.
        "substep": session.substep_position(current),
        "d": diagram.build(current),
        "dp": diagram.build(current, "portrait"),
        "stages": stages(current),
        "allowed": allowed(current),
        "next_step": PHASE_TABLE[current.phase].next_step,
        "inputs": inputs,
        "targets": targets,
        "eta": eta,
        "form_error": bool(errors),
        "notice": notice,
        "fingerprint": fingerprint(current),
        # The latest training run of this session (the Train tab shows its progress).
        "run": runs.status(current.id) if runs is not None else None,
    }


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


_WHOLE = re.compile(r"[0-9]{1,12}")


def whole_number(text: str | None) -> int | None:
    """A whole number of at most 12 ASCII digits, else None (str.isdigit accepts "²", which
    int() refuses, and int() refuses 4,301 digits: neither may reach a 500)."""
    text = (text or "").strip()
    return int(text) if _WHOLE.fullmatch(text) else None


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a posted form; 413/422 for a body too large or malformed. Any file part
    is closed (it would otherwise stay open until garbage collection)."""
    length = whole_number(request.headers.get("content-length"))
    if length is not None and length > MAX_FORM_BYTES:
        raise HTTPException(413, f"the form is larger than {MAX_FORM_BYTES // 1024} KB")
    try:
        form = await request.form()
    except HTTPException as exc:
        raise HTTPException(422, f"the form could not be read ({exc.detail})") from exc
    try:
        return {key: value for key, value in form.items() if isinstance(value, str)}
    finally:
        await form.close()


def view_of(values: Mapping[str, str]) -> panel.View:
    return panel.View.parse(values)


@router.get("/")
def page(request: Request, store: Store) -> Response:
    current = cookie_session(request, store)
    created = current is None
    if current is None:
        current = create_session(store, CreateSession())
    response = render_page(context(current, view_of(request.query_params), request=request))
    if created:
        set_cookie(response, request, current)
    return response


@router.get("/page/panel")
def show_panel(request: Request, store: Store) -> Response:
    """Open a tab, select a quantity, check an answer: the panel (and the selection in the diagram)."""
    view = view_of(request.query_params)
    if not is_htmx(request):
        return RedirectResponse("/" + view.but(answer="").query, status_code=303)
    current = cookie_session(request, store)
    if current is None:
        return lost_session(request)
    return render_regions(context(current, view, request=request), PANEL_REGIONS[0], PANEL_REGIONS[1:])


def lost_session(request: Request) -> Response:
    """The cookie's session is gone (expired, or never ours): start again from the page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": "/"})
    return RedirectResponse("/", status_code=303)


def respond_to_change(
    request: Request,
    store: SessionStore,
    change: Callable[[Session], Session],
    regions: tuple[str, ...],
    view: panel.View,
    substep: bool = False,
) -> Response:
    """Apply ``change`` to the cookie's session atomically and answer: the ``regions`` (the first
    is the request's target) for htmx, a 303 back to the page otherwise; a refused change shows
    its reason (409/422) and changes nothing."""
    current = cookie_session(request, store)
    if current is None:
        return lost_session(request)
    try:
        current = store.update(current.id, change)
    except (PhaseError, InvalidInputError, DivergenceError) as exc:
        status = 422 if isinstance(exc, InvalidInputError) else 409
        try:
            current = store.get(current.id)
        except SessionNotFoundError:
            return lost_session(request)
        if is_htmx(request):
            return render_regions(
                context(current, view, notice=str(exc), request=request), "status", (), status
            )
        return render_page(context(current, view, notice=str(exc), request=request), status)
    except SessionNotFoundError:
        return lost_session(request)
    if substep:
        # A sub-step opens the derivation of what it just computed.
        view = view.but(tab="work", select=panel.auto_select(current), answer="")
    if is_htmx(request):
        return render_regions(context(current, view, request=request), regions[0], regions[1:])
    return RedirectResponse("/" + view.query, status_code=303)


ACTIONS: dict[str, Callable[[Session], Session]] = {
    "forward": session.run_forward,
    "backward": session.run_backward,
    "update": session.run_update,
    "step": session.run_step,
    "substep": session.run_substep,
    "reset": session.reset,
    "undo": session.undo,
}


def parse_number(
    raw: str | None, label: str, low: float, high: float, low_open: bool = False
) -> tuple[float | None, str | None]:
    """A number from a form field, or the message to show next to the field."""
    text = (raw or "").strip().replace("−", "-")
    if not text:
        return None, f"{label}: enter a number"
    try:
        value = float(text)
    except ValueError:
        return None, f"{label}: “{raw}” is not a number"
    if not math.isfinite(value):
        return None, f"{label}: must be a finite number"
    if value < low or value > high or (low_open and value == low):
        bracket = "(" if low_open else "["
        return None, f"{label}: must lie in {bracket}{low:g}, {high:g}]"
    return value, None


@router.post("/page/sample")
async def sample(request: Request, store: Store, _: SameOrigin) -> Response:
    """The form of inputs, targets and learning rate; invalid values are shown next to their field."""
    current = await run_in_threadpool(cookie_session, request, store)
    if current is None:
        return lost_session(request)
    values = await form_fields(request)
    inputs_, targets_, _eta = sample_fields(current)
    errors: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for field in (*inputs_, *targets_):
        value, error = parse_number(values.get(field.name), field.label, -MAX_ABS_VALUE, MAX_ABS_VALUE)
        if error:
            errors[field.name] = error
        elif value is not None:
            numbers[field.name] = value
    eta, error = parse_number(values.get("eta"), "η (learning rate)", 0.0, MAX_LEARNING_RATE, low_open=True)
    if error:
        errors["eta"] = error
    view = view_of(values)
    if errors or eta is None:
        ctx = context(current, view, values=values, errors=errors, request=request)
        if is_htmx(request):
            return render_regions(ctx, "sample", (), 422)
        return render_page(ctx, 422)
    new_input = [numbers[f.name] for f in inputs_]
    new_target = [numbers[f.name] for f in targets_]

    def change(s: Session) -> Session:
        return session.edit(s, input=new_input, target=new_target, learning_rate=eta)

    return await run_in_threadpool(respond_to_change, request, store, change, SAMPLE_REGIONS, view)


@router.get("/page/watch")
def watch(request: Request, store: Store, v: str = "") -> Response:
    """For a page left open while the API drives its session: 204 if nothing changed, else the regions."""
    current = cookie_session(request, store)
    if current is None:
        return lost_session(request)
    if fingerprint(current) == v:
        return Response(status_code=204, headers={"Vary": "HX-Request, Cookie", "Cache-Control": "no-store"})
    ctx = context(current, view_of(request.query_params), request=request)
    # The watch element swaps nothing itself (hx-swap="none"): every region comes out of band,
    # the status with the new fingerprint, so the next poll answers 204 again.
    return render_out_of_band(ctx, ("status", "diagram", "controls", "panel"))


# Last, so that the fixed /page/... routes above take precedence.
@router.post("/page/{action}")
async def act(action: str, request: Request, store: Store, _: SameOrigin) -> Response:
    """Forward, Backward, Update, Step, Sub-step, Reset, Undo from the page's buttons."""
    change = ACTIONS.get(action)
    if change is None:
        raise HTTPException(404, f"no such action: {action}")
    view = view_of(await form_fields(request))
    return await run_in_threadpool(
        respond_to_change, request, store, change, STEP_REGIONS, view, action == "substep"
    )
