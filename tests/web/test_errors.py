"""Each exception of app/errors.py has one status, and the API answers every refusal with it."""

from __future__ import annotations

import inspect

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Scope

from app import errors
from app.store import MemoryStore
from app.web.errors import CLIENT_CLOSED, REFUSALS, STATUS, retry_headers, status_of

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


async def sent_to_a_client_that_goes_away(app: FastAPI, path: str, content_type: str) -> list[Message]:
    """What ``app`` sends for a POST whose client sends the start of the 1,000 bytes it announced,
    then disconnects (as wrk does when it stops mid-request)."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", b"1000"),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    start = (
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1'
        if "multipart" in content_type
        else b"x=1&y="
    )
    incoming: list[Message] = [{"type": "http.request", "body": start, "more_body": True}]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)  # raises nothing: a client that went away is no error
    return sent


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/page/sample", "application/x-www-form-urlencoded"),
        ("/page/forward", "application/x-www-form-urlencoded"),
        ("/page/network/import", "multipart/form-data; boundary=x"),
        ("/api/sessions/import", "application/json"),
    ],
)
async def test_a_client_that_goes_away_mid_body_is_a_quiet_499(
    app: FastAPI, store: MemoryStore, path: str, content_type: str
) -> None:
    sent = await sent_to_a_client_that_goes_away(app, path, content_type)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == CLIENT_CLOSED
    assert store.count() == 0
