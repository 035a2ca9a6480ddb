"""The JSON API: thin routes over the session functions and the store."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import codec, explain, gradcheck, presets, session, share
from app.answers import check
from app.errors import NoTrainingRunError
from app.limits import MAX_BUCKETS, MAX_IMPORT_BYTES, MAX_LOSSES_PAGE
from app.quantity import parse_index, select
from app.session import Session
from app.settings import Settings
from app.store import SessionStore
from app.train_pool import TrainingPool
from app.web.deps import AppSettings, Store, Trainers, TrainingRuns, public_base
from app.web.follow_links import follow_path
from app.web.quick import run_quick
from app.web.rate_limit import NewSession
from app.web.schemas import (
    ERRORS,
    CheckRequest,
    CheckResponse,
    CreateSession,
    EditSession,
    ErrorBody,
    ExplainResponse,
    GradientCheckResponse,
    HistoryEntry,
    LossCurve,
    LossesPage,
    PresetInfo,
    RunState,
    SessionState,
    ShareLink,
    TrainRequest,
    check_of,
    curve_of,
    dataset_of,
    explanation_of,
    gradient_check_of,
    run_of,
    state_of,
)
from app.web.services import create_session, new_session_id
from app.web.uploads import parse_json_object, read_body


def _no_store(response: Response) -> None:
    """Answers carry a session's numbers and its share and follow links: no cache may keep them."""
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/api", tags=["sessions"], dependencies=[Depends(_no_store)])


def _state(current: Session, store: Store, settings: AppSettings) -> SessionState:
    """The API's state of ``current`` with its follow link."""
    return state_of(current, follow_url=follow_path(store, settings, current.id))


def _created(new: Session, store: Store, settings: AppSettings, response: Response) -> SessionState:
    response.headers["Location"] = f"/api/sessions/{new.id}"
    return _state(new, store, settings)


@router.post("/sessions", status_code=201, response_model=SessionState, responses=ERRORS)
def create(
    store: Store,
    settings: AppSettings,
    response: Response,
    _: NewSession,
    body: Annotated[CreateSession | None, Body()] = None,
) -> SessionState:
    """Create a session. Omitted weights are drawn from the seed (see the README for the scheme)."""
    return _created(create_session(store, body or CreateSession()), store, settings, response)


@router.get("/sessions/{session_id}", response_model=SessionState, responses=ERRORS)
async def read(session_id: str, store: Store, settings: AppSettings) -> SessionState:
    return await run_quick(lambda: _state(store.get(session_id), store, settings))


@router.patch("/sessions/{session_id}", response_model=SessionState, responses=ERRORS)
def patch(session_id: str, body: EditSession, store: Store, settings: AppSettings) -> SessionState:
    """Change any of the fields; the traces are cleared and the phase returns to idle."""
    changes = body.model_dump(exclude_unset=True, exclude={"dataset"})
    if body.dataset is not None:
        changes["dataset"] = dataset_of(body.dataset)
    return _state(store.update(session_id, lambda s: session.edit(s, **changes)), store, settings)


@router.delete("/sessions/{session_id}", status_code=204, responses=ERRORS)
def delete(session_id: str, store: Store, runs: TrainingRuns) -> Response:
    """Delete the session (a background run on it is cancelled first)."""
    runs.stop(session_id)
    store.delete(session_id)
    return Response(status_code=204)


def _stepper(name: str, change: Callable[[Session], Session], doc: str) -> None:
    def stepped(store: SessionStore, settings: Settings, session_id: str) -> SessionState:
        return _state(store.update(session_id, change), store, settings)

    async def route(session_id: str, store: Store, settings: AppSettings) -> SessionState:
        return await run_quick(stepped, store, settings, session_id)

    route.__name__ = name
    route.__doc__ = doc
    router.add_api_route(
        f"/sessions/{{session_id}}/{name}",
        route,
        methods=["POST"],
        response_model=SessionState,
        responses=ERRORS,
        summary=name.capitalize(),
    )


_stepper(
    "forward", session.run_forward, "The forward pass and the loss. Allowed in any phase (it recomputes)."
)
_stepper("backward", session.run_backward, "δ of every layer and every gradient. Needs phase `forward`.")
_stepper("update", session.run_update, "w ← w − η·∂L/∂w for every layer at once. Needs phase `backward`.")
_stepper("step", session.run_step, "Forward, backward and update in one go.")
_stepper(
    "substep",
    session.run_substep,
    "The next sub-step: forward one layer, the loss, δ of one layer going back, or the update.",
)


@router.post("/sessions/{session_id}/reset", response_model=SessionState, responses=ERRORS, summary="Reset")
def reset(session_id: str, store: Store, runs: TrainingRuns, settings: AppSettings) -> SessionState:
    """Back to how the session was created (history cleared; a background run is cancelled first)."""
    runs.stop(session_id)
    return _state(store.update(session_id, session.reset), store, settings)


_stepper("undo", session.undo, "Back one update (409 when there is nothing to undo).")


@router.post(
    "/sessions/{session_id}/train",
    response_model=SessionState,
    responses={**ERRORS, 503: {"model": ErrorBody, "description": "Every training slot busy: Retry-After"}},
)
async def train_epochs(
    session_id: str, body: TrainRequest, store: Store, settings: AppSettings, pool: Trainers
) -> SessionState:
    """`epochs` full passes over the data; exactly equal to that many single steps. All or nothing.

    Computed in one of the server's training processes; when all are busy, 503 with `Retry-After`.
    A training whose client gave up waiting is still applied (send an `Idempotency-Key` to retry)."""
    with pool.slot():  # taken before a thread is, so waiting trains never hold the server's threads
        return await run_in_threadpool(_train, store, settings, pool, session_id, body.epochs)


def _train(
    store: SessionStore, settings: Settings, pool: TrainingPool, session_id: str, epochs: int
) -> SessionState:
    return _state(store.update(session_id, functools.partial(pool.train, epochs=epochs)), store, settings)


@router.get("/sessions/{session_id}/history", response_model=list[HistoryEntry], responses=ERRORS)
def history(session_id: str, store: Store) -> list[HistoryEntry]:
    """The kept states (the last 1,000 updates, older ones thinned), oldest first."""
    current = store.get(session_id)
    return [HistoryEntry(step=kept.step, loss=kept.loss) for kept in current.history.kept()]


@router.get(
    "/sessions/{session_id}/losses",
    response_model=LossesPage | LossCurve,
    responses={**ERRORS, 200: {"description": "A page of exact losses, or with `points` the curve"}},
)
def losses(
    session_id: str,
    store: Store,
    start: Annotated[int, Query(ge=0, description="Index of the first loss (0: update 1's)")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LOSSES_PAGE, description="Most losses to return (1..100,000)")
    ] = 1000,
    points: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_BUCKETS,
            description="Instead of exact losses, the min–max curve (≤ this many buckets)",
        ),
    ] = None,
) -> LossesPage | LossCurve:
    """The losses that lead to the current state (`loss_count` of them): exact values a page at a
    time, or with `points` the min–max downsampled curve the page draws (every spike kept)."""
    current = store.get(session_id)
    if points is not None:
        return curve_of(current.history.envelope(current.step).grouped(points))
    stop = min(current.step, start + limit)
    return LossesPage(start=start, losses=current.history.losses(start, stop).tolist())


@router.post("/sessions/{session_id}/history/{step}/restore", response_model=SessionState, responses=ERRORS)
def restore(session_id: str, step: int, store: Store, settings: AppSettings) -> SessionState:
    """The state exactly as it was right after update `step`; later states stay kept."""
    return _state(store.update(session_id, lambda s: session.restore(s, step)), store, settings)


@router.get("/sessions/{session_id}/export", responses=ERRORS)
def export(session_id: str, store: Store) -> JSONResponse:
    """The whole session as a JSON document that `POST /api/sessions/import` accepts."""
    current = store.get(session_id)
    return JSONResponse(
        codec.to_document(current),
        headers={"Content-Disposition": f'attachment; filename="backprop-session-{current.step}.json"'},
    )


@router.post(
    "/sessions/import",
    status_code=201,
    response_model=SessionState,
    responses={**ERRORS, 413: {"model": ErrorBody, "description": "Larger than 80 MB (decompressed)"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A document from GET .../export; may be sent gzip-compressed "
            "(Content-Encoding: gzip). At most 80 MB, after decompression.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def import_session(
    store: Store, settings: AppSettings, request: Request, response: Response, _: NewSession
) -> SessionState:
    """A new session from an exported document; a bad document changes nothing and says why."""
    raw = await read_body(request, MAX_IMPORT_BYTES)
    document = await run_in_threadpool(parse_json_object, raw)
    new = await run_in_threadpool(codec.from_document, document, new_session_id())
    stored = await run_in_threadpool(store.add, new)
    return await run_in_threadpool(_created, stored, store, settings, response)


@router.get("/presets", response_model=list[PresetInfo], tags=["presets"])
def list_presets() -> list[PresetInfo]:
    """The named starting points; create one with `POST /api/sessions {"preset": name}`."""
    return [
        PresetInfo(
            name=p.name, title=p.title, description=p.description, citation=p.citation, fields=p.body()
        )
        for p in presets.PRESETS.values()
    ]


@router.get("/sessions/{session_id}/share", response_model=ShareLink, responses=ERRORS)
def share_link(session_id: str, store: Store, request: Request, response: Response) -> ShareLink:
    """A link that opens a copy of this session's configuration, data and current weights (no
    history) as a new session in the page; 422 when the session is too big for a link. The link
    is on `BACKPROP_PUBLIC_URL` when the server has one, else on the host the request was sent to
    (so the answer is not to be cached)."""
    token = share.encode(store.get(session_id))
    response.headers["Cache-Control"] = "no-store"
    return ShareLink(token=token, url=f"{public_base(request)}/share/{token}")


# --------------------------------------------------------------------------------------------
# Show the working (app/explain.py, answers.py, gradcheck.py). Read-only: store.get, never update.
# --------------------------------------------------------------------------------------------


@router.get("/sessions/{session_id}/explain", response_model=ExplainResponse, responses=ERRORS)
def explain_quantity(
    session_id: str,
    store: Store,
    weight: str | None = None,
    bias: str | None = None,
    unit: str | None = None,
    loss: bool = False,
) -> ExplainResponse:
    """The working behind one number, in the notation of MATH.md: exactly one of `weight=l,i,j`,
    `bias=l,j`, `unit=l,j` (`unit=0,i` is input x_i) or `loss=true`, 0-based.

    The result is the number for the current phase: a unit's activation after forward and its δ
    once the backward pass has reached it; a weight's or bias's gradient after backward and its new
    value after update; the loss after forward. 409 when it has not been computed yet.
    """
    kind, index = select(
        weight=None if weight is None else parse_index(weight, "weight"),
        bias=None if bias is None else parse_index(bias, "bias"),
        unit=None if unit is None else parse_index(unit, "unit"),
        loss=loss,
    )
    return explanation_of(explain.explain(store.get(session_id), kind, index))


@router.post("/sessions/{session_id}/check", response_model=CheckResponse, responses=ERRORS)
def check_answer(session_id: str, body: CheckRequest, store: Store) -> CheckResponse:
    """Check a number worked out by hand against the one `/explain` arrives at (4 significant
    digits pass: the tolerance is max(5e-4·|expected|, 1e-9)); the working comes with the answer."""
    kind, index = select(weight=body.weight, bias=body.bias, unit=body.unit, loss=body.loss)
    return check_of(check(store.get(session_id), kind, index, body.value))


@router.get("/sessions/{session_id}/gradient-check", response_model=GradientCheckResponse, responses=ERRORS)
def gradient_check(
    session_id: str, store: Store, epsilon: float = gradcheck.DEFAULT_EPSILON
) -> GradientCheckResponse:
    """Every weight's and bias's gradient by backprop beside a central finite-difference estimate,
    at the current parameters on the current sample (every sample in batch mode)."""
    return gradient_check_of(gradcheck.gradient_check(store.get(session_id), epsilon))


# --------------------------------------------------------------------------------------------
# Background training runs (what the page's Train button uses; POST .../train is synchronous)
# --------------------------------------------------------------------------------------------


@router.post("/sessions/{session_id}/runs", status_code=202, response_model=RunState, responses=ERRORS)
def start_run(
    session_id: str, body: TrainRequest, store: Store, runs: TrainingRuns, settings: AppSettings
) -> RunState:
    """Train `epochs` epochs in the background, in short atomic chunks (other requests on the
    session go on between them); poll `GET .../runs` for progress. 409 if a run is already going."""
    return run_of(runs.start(session_id, body.epochs, seconds_limit=settings.train_seconds))


@router.get("/sessions/{session_id}/runs", response_model=RunState, responses=ERRORS)
def run_status(session_id: str, store: Store, runs: TrainingRuns) -> RunState:
    """The active run's progress, or how the latest run ended; 404 if the session never ran one."""
    store.get(session_id)
    status = runs.status(session_id)
    if status is None:
        raise NoTrainingRunError("this session has no training run")
    return run_of(status)


@router.delete("/sessions/{session_id}/runs", response_model=RunState, responses=ERRORS)
def cancel_run(session_id: str, store: Store, runs: TrainingRuns) -> RunState:
    """Stop the active run after its current chunk (the steps done so far stay applied)."""
    store.get(session_id)
    if runs.cancel(session_id) is None:
        raise NoTrainingRunError("this session has no training run")
    status = runs.wait(session_id, timeout=10.0)
    assert status is not None
    return run_of(status)
