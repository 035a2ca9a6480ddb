"""The JSON API: thin routes over the session functions and the store.

Each route's function name is its operationId (the method a generated client gets), its tag says
which concern it belongs to, and ``responses`` names every status it can answer (app/web/contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app import codec, presets, session, share
from app.errors import NoTrainingRunError
from app.limits import MAX_BUCKETS, MAX_IMPORT_BYTES, MAX_LOSSES_PAGE
from app.session import Session
from app.web.api_route import JsonRoute
from app.web.contract import CHANGING, NEW_SESSION, ON_A_SESSION, ON_SESSION, answers, success
from app.web.deps import AppSettings, Store, TrainingRuns
from app.web.documents import SessionDocument
from app.web.idempotency import IDEMPOTENT
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

router = APIRouter(prefix="/api", route_class=JsonRoute)

#: Where a new session is: the Location of a 201, and the link OpenAPI gives to its operations.
SESSION_PATH = "/api/sessions/{session_id}"


def _created(new: Session, response: Response) -> SessionState:
    response.headers["Location"] = SESSION_PATH.format(session_id=new.id)
    return state_of(new)


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
    store: Store, response: Response, body: Annotated[CreateSession | None, Body()] = None
) -> SessionState:
    """Create a session. Omitted weights are drawn from the seed (see the README for the scheme)."""
    return _created(create_session(store, body or CreateSession()), response)


@router.get(
    "/sessions/{session_id}", response_model=SessionState, tags=["sessions"], responses=answers(*ON_SESSION)
)
def get_session(session_id: str, store: Store) -> SessionState:
    """The session's whole state."""
    return state_of(store.get(session_id))


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionState,
    tags=["sessions"],
    responses=answers(403, 404, 413, 422, 503),
)
def edit_session(session_id: str, body: EditSession, store: Store) -> SessionState:
    """Change any of the fields; the traces are cleared and the phase returns to idle."""
    changes = body.model_dump(exclude_unset=True, exclude={"dataset"})
    if body.dataset is not None:
        changes["dataset"] = dataset_of(body.dataset)
    return state_of(store.update(session_id, lambda s: session.edit(s, **changes)))


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    tags=["sessions"],
    responses={204: {"description": "Deleted"}, **answers(403, 404, 422, 503)},
)
def delete_session(session_id: str, store: Store) -> Response:
    """Delete the session (its history too)."""
    store.delete(session_id)
    return Response(status_code=204)


def _stepper(name: str, tag: str, change: Callable[[Session], Session], doc: str) -> None:
    def route(session_id: str, store: Store) -> SessionState:
        return state_of(store.update(session_id, change))

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
_stepper("reset", "history", session.reset, "Back to how the session was created (history cleared).")
_stepper("undo", "history", session.undo, "Back one update (409 when there is nothing to undo).")


@router.post(
    "/sessions/{session_id}/train",
    response_model=SessionState,
    tags=["steps"],
    dependencies=[IDEMPOTENT],
    responses={
        200: success("The session after training", "list_losses", "list_history", "undo"),
        **answers(*CHANGING, 429),
    },
)
def train(session_id: str, body: TrainRequest, store: Store) -> SessionState:
    """`epochs` full passes over the data; exactly equal to that many single steps. All or nothing."""
    return state_of(store.update(session_id, lambda s: session.train(s, body.epochs)))


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
) -> SessionState:
    """The state exactly as it was right after update `step`; later states stay kept."""
    return state_of(store.update(session_id, lambda s: session.restore(s, step)))


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
async def import_session(store: Store, request: Request, response: Response) -> SessionState:
    """A new session from an exported document; a bad document changes nothing and says why."""
    raw = await read_body(request, MAX_IMPORT_BYTES)
    document = await run_in_threadpool(parse_json_object, raw)
    new = await run_in_threadpool(codec.from_document, document, new_session_id())
    stored = await run_in_threadpool(store.add, new)
    return _created(stored, response)


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
    history) as a new session in the page; 422 when the session is too big for a link."""
    token = share.encode(store.get(session_id))
    return ShareLink(token=token, url=f"{str(request.base_url).rstrip('/')}/share/{token}")


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
