"""Each exception of app/errors.py has one status, and the API answers every refusal with it."""

from __future__ import annotations

import inspect

import httpx
import pytest

from app import errors
from app.web.errors import REFUSALS, STATUS, retry_headers, status_of

pytestmark = pytest.mark.anyio


def test_every_exception_of_the_vocabulary_has_a_status() -> None:
    vocabulary = [
        kind for _, kind in inspect.getmembers(errors, inspect.isclass) if issubclass(kind, Exception)
    ]
    assert len(vocabulary) == 15
    for kind in vocabulary:
        assert any(issubclass(kind, mapped) for mapped in STATUS), kind
    assert set(REFUSALS) == set(STATUS)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInputError("x"), 422),
        (errors.NotASessionDocumentError("x"), 422),
        (errors.BadShareLinkError("x"), 422),
        (errors.TooBigToShareError("x"), 422),
        (errors.PhaseError("x"), 409),
        (errors.NothingComputedError("x"), 409),
        (errors.DivergenceError("x"), 409),
        (errors.NotKeptError("x"), 404),
        (errors.SessionNotFoundError("x"), 404),
        (errors.NoTrainingRunError("x"), 404),
        (errors.StoreBusyError("x"), 503),
        (errors.StoreFullError("x"), 503),
        (errors.TrainingBusyError("x"), 503),
        (errors.TooManyRequestsError("x"), 429),
        (ValueError("not ours"), 500),
        (LookupError("not ours"), 500),
    ],
)
def test_status_of(error: Exception, status: int) -> None:
    assert status_of(error) == status


@pytest.mark.parametrize(
    ("error", "headers"),
    [
        (errors.StoreBusyError("x"), {"Retry-After": "1"}),
        (errors.StoreFullError("x", 300), {"Retry-After": "300"}),
        (errors.TooManyRequestsError("x", 7), {"Retry-After": "7"}),
        (errors.PhaseError("x"), {}),
    ],
)
def test_a_busy_refusal_says_when_to_retry(error: Exception, headers: dict[str, str]) -> None:
    assert retry_headers(error) == headers


async def test_the_api_answers_a_refusal_with_its_status_and_message(client: httpx.AsyncClient) -> None:
    sid = (await client.post("/api/sessions")).json()["id"]
    refused = await client.post(f"/api/sessions/{sid}/history/7/restore")  # NotKeptError
    assert refused.status_code == 404
    assert refused.json() == {"detail": "step 7 is not kept in the history (the latest kept: 0)"}
    no_run = await client.get(f"/api/sessions/{sid}/runs")  # NoTrainingRunError
    assert (no_run.status_code, no_run.json()) == (404, {"detail": "this session has no training run"})
