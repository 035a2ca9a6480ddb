"""The Train tab's routes: start a training run, follow its progress, cancel it, and jump along
the history timeline.

A run trains in a background thread (app.training), in short atomic chunks, so it never blocks the
event loop, other users, or this user's own page; while it runs the tab polls for its progress and
each answer redraws the progress bar, the loss curve and the diagram. What the tab shows is
:mod:`app.web.views.train`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app import session
from app.errors import SessionNotFoundError
from app.limits import MAX_TRAIN_EPOCHS
from app.session import Session
from app.store import SessionStore
from app.web.deps import COOKIE, AppSettings, SameOrigin, Store, TrainingRuns
from app.web.errors import REFUSALS, status_of
from app.web.forms import read_form, whole_number
from app.web.responses import (
    back_to_page,
    first_change,
    keep_new,
    keep_shown,
    lost_session,
    opened,
    page_session,
    show,
)
from app.web.services import UNSAVED
from app.web.templating import is_htmx
from app.web.views.panel import View
from app.web.views.train import timeline

router = APIRouter(include_in_schema=False)


def _respond(
    request: Request, current: Session, view: View, status_code: int = 200, **extra: Any
) -> Response:
    """The panel (with the diagram, status and controls out of band), or back to the page; a
    refusal shows the whole page with the reason."""
    if not is_htmx(request) and status_code < 400:
        return back_to_page(view)
    return show(request, current, view, shown="poll", own="panel", status_code=status_code, **extra)


def parse_epochs(raw: str | None) -> tuple[int | None, str | None]:
    """Epochs from the form ("1,000" and "1_000" too), or the message to show."""
    epochs = whole_number((raw or "").replace(",", "").replace("_", ""))
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
    #: The cookie's session, or the unsaved default network (see ``page_session``).
    current: Session

    @property
    def unsaved(self) -> bool:
        return self.current.id == UNSAVED


async def _posted(request: Request, store: SessionStore) -> _Posted:
    values = (await read_form(request)).require().fields
    current = await run_in_threadpool(page_session, request, store)
    return _Posted(values, View.parse(values).but(tab="train"), current)


@router.post("/page/train")
async def start_run(
    request: Request, store: Store, runs: TrainingRuns, settings: AppSettings, _: SameOrigin
) -> Response:
    """Train N epochs in the background; the tab then polls for progress. A refused start (bad
    epochs, a run already going) is the form's refusal: 422 with the reason."""
    posted = await _posted(request, store)
    current, view = posted.current, posted.view
    epochs, error = parse_epochs(posted.values.get("epochs"))
    if epochs is not None and posted.unsaved:
        # The visitor's first action: keep the network they were shown, then train it.
        try:
            current = await run_in_threadpool(keep_new, request, store, keep_shown)
        except REFUSALS as exc:
            return _respond(request, current, view, status_of(exc), notice=str(exc))
    if epochs is not None:
        try:
            await run_in_threadpool(runs.start, current.id, epochs, seconds_limit=settings.train_seconds)
        except SessionNotFoundError:
            return lost_session(request)
        except REFUSALS as exc:
            error = str(exc)
    if error:
        return _respond(request, current, view, 422, notice=error)
    return opened(request, current, view) if posted.unsaved else _respond(request, current, view)


@router.get("/page/run")
def poll_run(request: Request, store: Store, runs: TrainingRuns) -> Response:
    """The run's progress (and the network as it learns); stops polling once the run has ended.

    The run's status is read before the session: a run says it is done only after its last chunk
    is stored, so the session read next has every step the status counts (read the other way round,
    a run ending in between showed "done" beside the network of a chunk before, and polling stopped).
    """
    session_id = request.cookies.get(COOKIE)
    run = runs.status(session_id) if session_id else None
    current = page_session(request, store)
    return _respond(request, current, View.parse(request.query_params).but(tab="train"), run=run)


@router.post("/page/cancel")
async def cancel_run(request: Request, store: Store, runs: TrainingRuns, _: SameOrigin) -> Response:
    """Stop the run after its current chunk; the steps done so far stay."""
    posted = await _posted(request, store)
    if posted.unsaved:
        return _respond(request, posted.current, posted.view)  # nothing runs on it
    session_id = posted.current.id
    # The run stops after its current chunk (about 20 ms); ask and wait off the event loop.
    await run_in_threadpool(runs.cancel, session_id)
    await run_in_threadpool(runs.wait, session_id, 5.0)
    latest = await run_in_threadpool(store.get, session_id)
    return _respond(request, latest, posted.view)


@router.post("/page/restore")
async def restore(request: Request, store: Store, _: SameOrigin) -> Response:
    """Jump to a kept state of the timeline (the slider's index, or a step number)."""
    posted = await _posted(request, store)
    current, view = posted.current, posted.view
    steps = timeline(current).steps
    index = whole_number(posted.values.get("index"))
    if index is None or index >= len(steps):
        return _respond(
            request, current, view, 422, notice=f"timeline: choose a kept state 0..{len(steps) - 1}"
        )
    step = steps[index]
    if posted.unsaved:
        return await run_in_threadpool(
            first_change, request, store, lambda s: session.restore(s, step), view, own="panel"
        )
    try:
        restored = await run_in_threadpool(store.update, current.id, lambda s: session.restore(s, step))
    except SessionNotFoundError:
        return lost_session(request)
    except REFUSALS as exc:
        return _respond(request, current, view, status_of(exc), notice=str(exc))
    return _respond(request, restored, view)
