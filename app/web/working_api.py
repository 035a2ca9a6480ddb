"""Show the working through the API: how a number is computed (app/explain.py), an answer worked
by hand checked (app/answers.py), backprop against finite differences (app/gradcheck.py). Read-only:
``store.get``, never ``update``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app import gradcheck
from app.answers import check
from app.explain import explain as explain_number
from app.limits import MAX_EPSILON
from app.quantity import parse_index, select
from app.web.api_route import JsonRoute
from app.web.contract import ON_SESSION, answers
from app.web.deps import Store, no_store
from app.web.replies import (
    CheckResponse,
    ExplainResponse,
    GradientCheckResponse,
    check_of,
    explanation_of,
    gradient_check_of,
)
from app.web.schemas import CheckRequest

router = APIRouter(prefix="/api", route_class=JsonRoute, dependencies=[Depends(no_store)])

#: An index in a query, as /explain takes it: "1,2,1". The pattern is documented, and checked by
#: app/quantity.py, whose refusal says what an index looks like.
IndexQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="0-based, comma-separated, e.g. 1,2,1",
        json_schema_extra={"pattern": "^ *[0-9][0-9 ]*(, *[0-9][0-9 ]*)*$"},
    ),
]


@router.get(
    "/sessions/{session_id}/explain",
    response_model=ExplainResponse,
    tags=["working"],
    responses=answers(404, 409, 422, 503, _409="That number has not been computed in this phase yet"),
)
def explain(
    session_id: str,
    store: Store,
    weight: IndexQuery = None,
    bias: IndexQuery = None,
    unit: IndexQuery = None,
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
    return explanation_of(explain_number(store.get(session_id), kind, index))


@router.post(
    "/sessions/{session_id}/check",
    response_model=CheckResponse,
    tags=["working"],
    responses=answers(
        403, 404, 409, 413, 422, 503, _409="That number has not been computed in this phase yet"
    ),
)
def check_answer(session_id: str, body: CheckRequest, store: Store) -> CheckResponse:
    """Check a number worked out by hand against the one `/explain` arrives at (4 significant
    digits pass: the tolerance is max(5e-4·|expected|, 1e-9)); the working comes with the answer."""
    kind, index = select(weight=body.weight, bias=body.bias, unit=body.unit, loss=body.loss)
    return check_of(check(store.get(session_id), kind, index, body.value))


@router.get(
    "/sessions/{session_id}/gradient-check",
    response_model=GradientCheckResponse,
    tags=["working"],
    responses=answers(*ON_SESSION),
)
def gradient_check(
    session_id: str,
    store: Store,
    epsilon: Annotated[
        float, Query(gt=0, le=MAX_EPSILON, description="The step ε of the central differences")
    ] = gradcheck.DEFAULT_EPSILON,
) -> GradientCheckResponse:
    """Every weight's and bias's gradient by backprop beside a central finite-difference estimate,
    at the current parameters on the current sample (every sample in batch mode)."""
    return gradient_check_of(gradcheck.gradient_check(store.get(session_id), epsilon))
