"""The API's contract as OpenAPI states it: each operation's id (the method name a generated
client gets), its tag, and every status it can answer, each with a model and the reason.

A route declares its statuses with :func:`answers`, naming what can go wrong, so /docs and a
generated client know every answer the server can give; schemathesis holds the server to it
(tests/web/test_contract.py).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from app.web.schemas import ErrorBody, ValidationErrorBody

#: The tags, one per concern, in the order /docs shows them.
TAGS: list[dict[str, str]] = [
    {"name": "sessions", "description": "Make, read, change, export, import and delete a session."},
    {
        "name": "steps",
        "description": "Forward, backward, update: one phase, a whole step, a sub-step, or many.",
    },
    {"name": "history", "description": "Kept states, the losses, undo, restore and reset."},
    {
        "name": "working",
        "description": "How a number is computed: derivations, answers, gradient checks, notebooks.",
    },
    {"name": "runs", "description": "Training in the background, with progress and cancel."},
    {"name": "sheets", "description": "Exercise sheets: make, read, grade, and the key."},
    {"name": "presets", "description": "Named starting networks."},
    {"name": "meta", "description": "Liveness and readiness."},
]


def operation_id(route: APIRoute) -> str:
    """The route's name, which is its function's name unless given: short and stable
    (``create_session``, ``forward``), so a generated client reads ``api.forward(session_id)``."""
    return route.name


#: Retry-After, in seconds, as 429 and 503 answers (and 409 for a request still running) carry it.
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }
}

#: Why each status may be answered, wherever it can happen; a route may say more of its own.
REASONS: dict[int, str] = {
    403: "A request that changes something, sent from a foreign Origin (one not listed in "
    "BACKPROP_ALLOWED_ORIGINS)",
    404: "No such session (never made, deleted, expired or evicted)",
    409: "Not allowed now: a step out of order (the detail says which step comes first), or a "
    "request with the same Idempotency-Key still running",
    413: "The request body is larger than the server reads",
    415: "A Content-Encoding the server does not read",
    422: "Invalid input; the detail names the field and says what is wrong. Also: a body that is "
    "not UTF-8 JSON, or an Idempotency-Key reused with another body",
    429: "Too many requests; wait Retry-After seconds",
    503: "The session store cannot be reached or is busy; try again after Retry-After seconds",
}


def answers(*statuses: int, by_reference: bool = False, **reasons: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer ``statuses`` besides its success: each with
    its model and reason (``reasons`` overrides a reason by status, e.g. ``_404="..."``).

    Refusals are JSON whatever the route answers when it succeeds: ``by_reference`` names their
    models as JSON by hand, for a route whose success is another media type (FastAPI would give
    its refusals that type too)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationErrorBody if status == 422 else ErrorBody
        entry: dict[str, Any] = {"description": reasons.get(f"_{status}", REASONS[status])}
        if by_reference:
            entry["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            }
        else:
            entry["model"] = model
        if status in (409, 429, 503):
            entry["headers"] = RETRY_AFTER
        documented[status] = entry
    return documented


#: What any operation on a session can answer: not found, invalid input, the store unavailable.
ON_SESSION = (404, 422, 503)
#: What a request that changes a session can answer besides: a foreign origin, a step refused or a
#: key in use, a body too large.
CHANGING = (403, 404, 409, 413, 422, 503)


# --------------------------------------------------------------------------------------------
# Links: what an answer leads to (OpenAPI links, which /docs shows and schemathesis follows)
# --------------------------------------------------------------------------------------------

#: Where a new session's id is, in the answer that made it.
NEW_SESSION = "$response.body#/id"
#: The session the request was about.
SAME_SESSION = "$request.path.session_id"
#: Every operation on a session that needs nothing but its id.
ON_A_SESSION = (
    "get_session",
    "edit_session",
    "delete_session",
    "forward",
    "backward",
    "update",
    "step",
    "substep",
    "train",
    "reset",
    "undo",
    "list_history",
    "list_losses",
    "export_session",
    "get_share_link",
    "explain",
    "check_answer",
    "gradient_check",
    "start_run",
    "get_notebook",
)


def links(session: str, *operations: str) -> dict[str, dict[str, Any]]:
    """OpenAPI links to ``operations``, each on the session ``session`` names (a runtime expression)."""
    return {name: {"operationId": name, "parameters": {"session_id": session}} for name in operations}


def success(description: str, *operations: str, session: str = SAME_SESSION) -> dict[str, Any]:
    """A success answer that leads to ``operations`` on the same (or the new) session."""
    return {"description": description, "links": links(session, *operations)}
