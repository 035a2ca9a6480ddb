"""The JSON API: thin routes over the session functions and the store.

Each route's function name is its operationId (the method a generated client gets), its tag says
which concern it belongs to, and ``responses`` names every status it can answer (app/web/contract.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import codec, presets, session, share
from app.errors import NoTrainingRunError
from app.limits import MAX_BUCKETS, MAX_IMPORT_BYTES, MAX_LOSSES_PAGE
from app.session import Session
from app.settings import Settings
from app.store import SessionStore
from app.train_pool import TrainingPool
from app.web.api_route import JsonRoute
from app.web.contract import CHANGING, NEW_SESSION, ON_A_SESSION, ON_SESSION, answers, success
from app.web.deps import AppSettings, Store, Trainers, TrainingRuns, no_store, public_base
from app.web.documents import SessionDocument
from app.web.follow_links import follow_path
from app.web.idempotency import IDEMPOTENT
from app.web.quick import run_quick
from app.web.rate_limit import NewSession
from app.web.replies import (
    HistoryEntry,
    LossCurve,
    LossesPage,
    PresetInfo,
    RunState,
    SessionState,
    ShareLink,
    curve_of,
    run_of,
    state_of,
)
from app.web.schemas import CreateSession, EditSession, TrainRequest, dataset_of
from app.web.services import create_session, new_session_id
from app.web.uploads import parse_json_object, read_body

#: Answers carry a session's numbers and its share and follow links: no cache may keep them.
router = APIRouter(prefix="/api", route_class=JsonRoute, dependencies=[Depends(no_store)])

#: Where a new session is: the Location of a 201, and the link OpenAPI gives to its operations.
SESSION_PATH = "/api/sessions/{session_id}"


def _state(current: Session, store: SessionStore, settings: Settings) -> SessionState:
    """The API's state of ``current`` with its follow link."""
    return state_of(current, follow_url=follow_path(store, settings, current.id))


def _created(new: Session, store: SessionStore, settings: Settings, response: Response) -> SessionState:
    response.headers["Location"] = SESSION_PATH.format(session_id=new.id)
    return _state(new, store, settings)


_KEY_IN_USE = (
    "A request with the same Idempotency-Key is still running (or was applied, its answer too large to keep)"
)

#: A 201's Location header, as OpenAPI documents it, and what the new session leads to.
CREATED = {
    **success("Created; Location is the new session's URL", *ON_A_SESSION, session=NEW_SESSION),
    "headers": {"Location": {"description": "/api/sessions/{id}", "schema": {"type": "string"}}},
}
#: What each step leads to: the next step, and what a step changes.
NEXT: dict[str, tuple[str, ...]] = {
    "forward": ("backward", "substep", "explain"),
    "backward": ("update", "explain", "gradient_check"),
    "update": ("forward", "undo", "step"),
    "step": ("step", "undo", "list_losses"),
    "substep": ("substep", "explain"),
    "reset": ("step",),
    "undo": ("step", "list_history"),
}


@router.post(
    "/sessions",
    name="create_session",
    status_code=201,
    response_model=SessionState,
    tags=["sessions"],
    dependencies=[IDEMPOTENT],
    responses={201: CREATED, **answers(403, 409, 413, 422, 429, 503, _409=_KEY_IN_USE)},
)
def create(
    store: Store,
    settings: AppSettings,
    response: Response,
    _: NewSession,
    body: Annotated[CreateSession | None, Body()] = None,
) -> SessionState:
    """Create a session. Omitted weights are drawn from the seed (see the README for the scheme)."""
    return _created(create_session(store, body or CreateSession()), store, settings, response)


@router.get(
    "/sessions/{session_id}", response_model=SessionState, tags=["sessions"], responses=answers(*ON_SESSION)
)
async def get_session(session_id: str, store: Store, settings: AppSettings) -> SessionState:
    """The session's whole state."""
    return await run_quick(lambda: _state(store.get(session_id), store, settings))


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionState,
    tags=["sessions"],
    responses=answers(403, 404, 413, 422, 503),
)
def edit_session(session_id: str, body: EditSession, store: Store, settings: AppSettings) -> SessionState:
    """Change any of the fields; the traces are cleared and the phase returns to idle."""
    changes = body.model_dump(exclude_unset=True, exclude={"dataset"})
    if body.dataset is not None:
        changes["dataset"] = dataset_of(body.dataset)
    return _state(store.update(session_id, lambda s: session.edit(s, **changes)), store, settings)


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    tags=["sessions"],
    responses={204: {"description": "Deleted"}, **answers(403, 404, 422, 503)},
)
def delete_session(session_id: str, store: Store, runs: TrainingRuns) -> Response:
    """Delete the session (its history too; a background run on it is stopped first)."""
    runs.stop(session_id)
    store.delete(session_id)
    return Response(status_code=204)


def _stepper(name: str, tag: str, change: Callable[[Session], Session], doc: str) -> None:
    def stepped(store: SessionStore, settings: Settings, session_id: str) -> SessionState:
        return _state(store.update(session_id, change), store, settings)

    async def route(session_id: str, store: Store, settings: AppSettings) -> SessionState:
        return await run_quick(stepped, store, settings, session_id)

    route.__doc__ = doc
    router.add_api_route(
        f"/sessions/{{session_id}}/{name}",
        route,
        name=name,
        methods=["POST"],
        response_model=SessionState,
        tags=[tag],
        dependencies=[IDEMPOTENT],
        responses={200: success("The session after the step", *NEXT[name]), **answers(*CHANGING)},
        summary=name.capitalize(),
    )


_stepper(
    "forward",
    "steps",
    session.run_forward,
    "The forward pass and the loss. Allowed in any phase (it recomputes).",
)
_stepper(
    "backward", "steps", session.run_backward, "δ of every layer and every gradient. Needs phase `forward`."
)
_stepper(
    "update", "steps", session.run_update, "w ← w − η·∂L/∂w for every layer at once. Needs phase `backward`."
)
_stepper("step", "steps", session.run_step, "Forward, backward and update in one go.")
_stepper(
    "substep",
    "steps",
    session.run_substep,
    "The next sub-step: forward one layer, the loss, δ of one layer going back, or the update.",
)
_stepper("undo", "history", session.undo, "Back one update (409 when there is nothing to undo).")


@router.post(
    "/sessions/{session_id}/reset",
    response_model=SessionState,
    tags=["history"],
    dependencies=[IDEMPOTENT],
    responses={200: success("The session after the step", *NEXT["reset"]), **answers(*CHANGING)},
    summary="Reset",
)
def reset(session_id: str, store: Store, runs: TrainingRuns, settings: AppSettings) -> SessionState:
    """Back to how the session was created (history cleared; a background run is stopped first)."""
    runs.stop(session_id)
    return _state(store.update(session_id, session.reset), store, settings)


@router.post(
    "/sessions/{session_id}/train",
    response_model=SessionState,
    tags=["steps"],
    dependencies=[IDEMPOTENT],
    responses={
        200: success("The session after training", "list_losses", "list_history", "undo"),
        **answers(*CHANGING, 429, _503="Every training slot is busy, or the store is: see Retry-After"),
    },
)
async def train(
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


@router.get(
    "/sessions/{session_id}/history",
    response_model=list[HistoryEntry],
    tags=["history"],
    responses=answers(*ON_SESSION),
)
def list_history(session_id: str, store: Store) -> list[HistoryEntry]:
    """The kept states (the last 1,000 updates, older ones thinned), oldest first."""
    current = store.get(session_id)
    return [HistoryEntry(step=kept.step, loss=kept.loss) for kept in current.history.kept()]


@router.get(
    "/sessions/{session_id}/losses",
    response_model=LossesPage | LossCurve,
    tags=["history"],
    responses={
        200: {"description": "A page of exact losses, or with `points` the curve"},
        **answers(*ON_SESSION),
    },
)
def list_losses(
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


@router.post(
    "/sessions/{session_id}/history/{step}/restore",
    response_model=SessionState,
    tags=["history"],
    dependencies=[IDEMPOTENT],
    responses=answers(403, 404, 409, 422, 503, _404="No such session, or that step is not kept"),
)
def restore(
    session_id: str,
    step: Annotated[int, Path(ge=0, description="An update kept in the history")],
    store: Store,
    settings: AppSettings,
) -> SessionState:
    """The state exactly as it was right after update `step`; later states stay kept."""
    return _state(store.update(session_id, lambda s: session.restore(s, step)), store, settings)


@router.get(
    "/sessions/{session_id}/export",
    response_model=SessionDocument,
    tags=["sessions"],
    responses={
        200: {
            "description": "The session as a document to download",
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        },
        **answers(*ON_SESSION),
    },
)
def export_session(session_id: str, store: Store) -> JSONResponse:
    """The whole session as a JSON document that `POST /api/sessions/import` accepts."""
    current = store.get(session_id)
    # Answered as it is: an export may hold 2,000,000 losses, too many to pass through a model.
    return JSONResponse(
        codec.to_document(current),
        headers={"Content-Disposition": f'attachment; filename="backprop-session-{current.step}.json"'},
    )


@router.post(
    "/sessions/import",
    status_code=201,
    response_model=SessionState,
    tags=["sessions"],
    dependencies=[IDEMPOTENT],
    responses={
        201: CREATED,
        **answers(
            403,
            409,
            413,
            415,
            422,
            429,
            503,
            _409=_KEY_IN_USE,
            _413="Larger than 80 MB (as sent, or once decompressed)",
            _415="A Content-Encoding other than gzip",
            _422="Not a session document (the detail says what is wrong), not UTF-8 JSON, not valid "
            "gzip, or an Idempotency-Key reused with another body",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A document from GET .../export; may be sent gzip-compressed "
            "(Content-Encoding: gzip). At most 80 MB, after decompression.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SessionDocument"}}},
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


@router.get(
    "/sessions/{session_id}/share",
    response_model=ShareLink,
    tags=["sessions"],
    responses=answers(*ON_SESSION, _422="The session is too big for a link (export it instead)"),
)
def get_share_link(session_id: str, store: Store, request: Request) -> ShareLink:
    """A link that opens a copy of this session's configuration, data and current weights (no
    history) as a new session in the page; 422 when the session is too big for a link. The link
    is on `BACKPROP_PUBLIC_URL` when the server has one, else on the host the request was sent to
    (so the answer is not to be cached)."""
    token = share.encode(store.get(session_id))
    return ShareLink(token=token, url=f"{public_base(request)}/share/{token}")


# --------------------------------------------------------------------------------------------
# Background training runs (what the page's Train button uses; POST .../train is synchronous)
# --------------------------------------------------------------------------------------------

_NO_RUN = "No such session, or it never had a training run"


@router.post(
    "/sessions/{session_id}/runs",
    status_code=202,
    response_model=RunState,
    tags=["runs"],
    dependencies=[IDEMPOTENT],
    responses={
        202: success("The run, started", "get_run", "cancel_run"),
        **answers(*CHANGING, 429, _409="A run is already going (or the session cannot train now)"),
    },
)
def start_run(
    session_id: str, body: TrainRequest, store: Store, runs: TrainingRuns, settings: AppSettings
) -> RunState:
    """Train `epochs` epochs in the background, in short atomic chunks (other requests on the
    session go on between them); poll `GET .../runs` for progress. 409 if a run is already going."""
    return run_of(runs.start(session_id, body.epochs, seconds_limit=settings.train_seconds))


@router.get(
    "/sessions/{session_id}/runs",
    response_model=RunState,
    tags=["runs"],
    responses=answers(404, 422, 503, _404=_NO_RUN),
)
def get_run(session_id: str, store: Store, runs: TrainingRuns) -> RunState:
    """The active run's progress, or how the latest run ended; 404 if the session never ran one."""
    store.get(session_id)
    status = runs.status(session_id)
    if status is None:
        raise NoTrainingRunError("this session has no training run")
    return run_of(status)


@router.delete(
    "/sessions/{session_id}/runs",
    response_model=RunState,
    tags=["runs"],
    responses={200: success("The run, stopped", "get_run"), **answers(403, 404, 422, 503, _404=_NO_RUN)},
)
def cancel_run(session_id: str, store: Store, runs: TrainingRuns) -> RunState:
    """Stop the active run after its current chunk (the steps done so far stay applied) and
    answer how it ended; the run is then gone (GET answers 404 until another starts)."""
    store.get(session_id)
    if runs.cancel(session_id) is None:
        raise NoTrainingRunError("this session has no training run")
    status = runs.wait(session_id, timeout=10.0)
    assert status is not None
    if not status.active:
        runs.forget(session_id)
    return run_of(status)
