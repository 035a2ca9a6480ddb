"""The Train tab of the page's panel: the loss curve, training runs and the history timeline.

A run trains in a background thread (app.training), in short atomic chunks, so it never blocks the
event loop, other users, or this user's own page; while it runs the tab polls for its progress and
each answer redraws the progress bar, the loss curve and the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app import chart, pages, session
from app.api import Store
from app.engine import EngineError
from app.pages import SameOrigin
from app.panel import View
from app.session import MAX_TRAIN_EPOCHS, PhaseError, Session
from app.store import SessionStore
from app.templating import is_htmx, render_page, render_regions
from app.training import Runs

router = APIRouter(include_in_schema=False)

#: How often the page asks for a run's progress.
POLL = "500ms"
DEFAULT_EPOCHS = 1000
#: The chart's size in user units: it fills the panel's width.
CHART_WIDTH, CHART_HEIGHT = 480.0, 300.0


@dataclass(frozen=True)
class Timeline:
    """The kept states, for the slider: which one is current and how many there are."""

    #: Kept steps, oldest first (thinned beyond the last 1,000 states).
    steps: tuple[int, ...]
    #: Index in ``steps`` of the current step (the nearest kept one at or before it).
    current: int


def timeline(current: Session) -> Timeline:
    steps = tuple(kept.step for kept in current.history.kept())
    at = max((k for k, step in enumerate(steps) if step <= current.step), default=0)
    return Timeline(steps, at)


def loss_chart(current: Session) -> chart.Chart:
    """The loss curve up to the current step, from the history's envelope (no loss read but the first)."""
    if current.step == 0:
        return chart.build((), width=CHART_WIDTH, height=CHART_HEIGHT)
    ends = (float(current.history.losses(0, 1)[0]), current.recent_losses[-1])
    return chart.build(
        current.history.envelope(current.step), ends=ends, width=CHART_WIDTH, height=CHART_HEIGHT
    )


def runs_of(request: Request) -> Runs:
    runs: Runs = request.app.state.runs
    return runs


def context(current: Session, view: View) -> dict[str, Any]:
    """What templates/_train.html needs."""
    return {
        "chart": loss_chart(current),
        "timeline": timeline(current),
        "poll": POLL,
        "default_epochs": DEFAULT_EPOCHS,
        "max_epochs": MAX_TRAIN_EPOCHS,
        "steps_per_epoch": session.steps_per_epoch(current),
    }


def _page_context(request: Request, current: Session, view: View, **extra: Any) -> dict[str, Any]:

    return pages.context(current, view, request=request, **extra)


def _respond(
    request: Request, current: Session, view: View, status_code: int = 200, **extra: Any
) -> Response:
    """The panel (with the diagram, status and controls out of band), or back to the page."""

    if not is_htmx(request):
        if status_code >= 400:
            return render_page(_page_context(request, current, view, **extra), status_code)
        return RedirectResponse("/" + view.query, status_code=303)
    ctx = _page_context(request, current, view, **extra)
    return render_regions(ctx, "panel", ("diagram", "status", "controls"), status_code)


def _parse_epochs(raw: str | None) -> tuple[int | None, str | None]:
    epochs = pages.whole_number((raw or "").replace(",", "").replace("_", ""))
    if epochs is None:
        return None, f"epochs: enter a whole number from 1 to {MAX_TRAIN_EPOCHS:,}"
    if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
        return None, f"epochs: must lie in 1..{MAX_TRAIN_EPOCHS:,}, got {epochs:,}"
    return epochs, None


@dataclass(frozen=True)
class _Posted:
    """What every POST of this tab starts from: the form, the view, the cookie's session."""

    values: dict[str, str]
    view: View
    current: Session | None


async def _posted(request: Request, store: SessionStore) -> _Posted:
    values = await pages.form_fields(request)
    current = await run_in_threadpool(pages.cookie_session, request, store)
    return _Posted(values, View.parse(values).but(tab="train"), current)


@router.post("/page/train")
async def start_run(request: Request, store: Store, _: SameOrigin) -> Response:
    """Train N epochs in the background; the tab then polls for progress."""
    posted = await _posted(request, store)
    current, view = posted.current, posted.view
    if current is None:
        return pages.lost_session(request)
    epochs, error = _parse_epochs(posted.values.get("epochs"))
    if epochs is not None:
        try:
            seconds = request.app.state.settings.train_seconds
            await run_in_threadpool(runs_of(request).start, current.id, epochs, seconds_limit=seconds)
        except (PhaseError, EngineError) as exc:
            error = str(exc)
    if error:
        return _respond(request, current, view, 422, notice=error)
    return _respond(request, current, view)


@router.get("/page/run")
def poll_run(request: Request, store: Store) -> Response:
    """The run's progress (and the network as it learns); stops polling once the run has ended."""
    current = pages.cookie_session(request, store)
    if current is None:
        return pages.lost_session(request)
    return _respond(request, current, View.parse(request.query_params).but(tab="train"))


@router.post("/page/cancel")
async def cancel_run(request: Request, store: Store, _: SameOrigin) -> Response:
    """Stop the run after its current chunk; the steps done so far stay."""
    posted = await _posted(request, store)
    if posted.current is None:
        return pages.lost_session(request)
    session_id = posted.current.id
    # Cancel asks the store (the run may be another process's); the run stops after its current
    # chunk (about 20 ms here, up to a quarter second elsewhere): wait for it off the event loop.
    await run_in_threadpool(runs_of(request).cancel, session_id)
    await run_in_threadpool(runs_of(request).wait, session_id, 5.0)
    latest = await run_in_threadpool(store.get, session_id)
    return _respond(request, latest, posted.view)


@router.post("/page/restore")
async def restore(request: Request, store: Store, _: SameOrigin) -> Response:
    """Jump to a kept state of the timeline (the slider's index, or a step number)."""
    posted = await _posted(request, store)
    current, view = posted.current, posted.view
    if current is None:
        return pages.lost_session(request)
    steps = timeline(current).steps
    index = pages.whole_number(posted.values.get("index"))
    if index is None or index >= len(steps):
        return _respond(
            request, current, view, 422, notice=f"timeline: choose a kept state 0..{len(steps) - 1}"
        )
    step = steps[index]
    try:
        restored = await run_in_threadpool(store.update, current.id, lambda s: session.restore(s, step))
    except (PhaseError, session.NotKeptError) as exc:
        return _respond(request, current, view, 409, notice=str(exc))
    return _respond(request, restored, view)
