"""Idempotency keys: a retry with the same key (same session and operation) gets the first answer
and changes nothing twice; another body under the key is a 422; a duplicate while the first runs is
a 409; keys last 24 hours in the store's records, so they hold across processes (two apps on one
SQLite file here); a request that changed nothing (5xx, 429) leaves its key free."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from app.errors import StoreBusyError
from app.main import create_app
from app.session import Session
from app.settings import Settings
from app.store import MemoryStore, SqliteStore
from app.web import idempotency
from app.web.idempotency import (
    HOLD_SECONDS,
    KEEP_SECONDS,
    KIND,
    MAX_KEY_LENGTH,
    PENDING,
    Answer,
    fingerprint,
    record_key,
)

pytestmark = pytest.mark.anyio

KEY = {"Idempotency-Key": "3f1c9a52-notebook-cell-7"}


async def new_session(client: httpx.AsyncClient) -> str:
    return str((await client.post("/api/sessions", json={"seed": 3})).json()["id"])


async def test_a_retry_gets_the_first_answer_and_changes_nothing_twice(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    first = await client.post(f"/api/sessions/{sid}/train", json={"epochs": 7}, headers=KEY)
    assert first.status_code == 200
    assert first.json()["step"] == 7
    assert "idempotent-replayed" not in first.headers
    retry = await client.post(f"/api/sessions/{sid}/train", json={"epochs": 7}, headers=KEY)
    assert retry.status_code == 200
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["content-type"] == "application/json"
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 7


@pytest.mark.parametrize("action", ["forward", "step", "substep", "reset", "undo"])
async def test_every_step_takes_a_key(client: httpx.AsyncClient, action: str) -> None:
    sid = await new_session(client)
    await client.post(f"/api/sessions/{sid}/step")
    before = (await client.post(f"/api/sessions/{sid}/{action}", headers=KEY)).json()
    again = await client.post(f"/api/sessions/{sid}/{action}", headers=KEY)
    assert again.json() == before
    assert (await client.get(f"/api/sessions/{sid}")).json() == before


async def test_a_refusal_is_the_first_answer_too(client: httpx.AsyncClient) -> None:
    """backward before forward is refused (409); the retry gets that 409, even after forward has
    run meanwhile: a retry never does what the first request did not."""
    sid = await new_session(client)
    refused = await client.post(f"/api/sessions/{sid}/backward", headers=KEY)
    assert refused.status_code == 409
    await client.post(f"/api/sessions/{sid}/forward")
    retry = await client.post(f"/api/sessions/{sid}/backward", headers=KEY)
    assert (retry.status_code, retry.json()) == (409, refused.json())
    assert (await client.get(f"/api/sessions/{sid}")).json()["phase"] == "forward"


async def test_create_under_a_key_makes_one_session(client: httpx.AsyncClient, store: MemoryStore) -> None:
    first = await client.post("/api/sessions", json={"preset": "mazur"}, headers=KEY)
    retry = await client.post("/api/sessions", json={"preset": "mazur"}, headers=KEY)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["location"] == first.headers["location"] == f"/api/sessions/{first.json()['id']}"
    assert store.count() == 1


async def test_import_under_a_key_makes_one_session(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = await new_session(client)
    document = (await client.get(f"/api/sessions/{sid}/export")).content
    headers = {**KEY, "content-type": "application/json"}
    first = await client.post("/api/sessions/import", content=document, headers=headers)
    retry = await client.post("/api/sessions/import", content=document, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert store.count() == 2


async def test_another_body_under_the_same_key_is_refused(client: httpx.AsyncClient) -> None:
    sid = await new_session(client)
    await client.post(f"/api/sessions/{sid}/train", json={"epochs": 5}, headers=KEY)
    other = await client.post(f"/api/sessions/{sid}/train", json={"epochs": 6}, headers=KEY)
    assert other.status_code == 422
    assert other.json() == {
        "detail": "this Idempotency-Key was used with another body: use a new key for a new request"
    }
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 5


async def test_a_key_belongs_to_one_session_and_one_operation(client: httpx.AsyncClient) -> None:
    one, two = await new_session(client), await new_session(client)
    assert (await client.post(f"/api/sessions/{one}/step", headers=KEY)).json()["step"] == 1
    assert (await client.post(f"/api/sessions/{two}/step", headers=KEY)).json()["step"] == 1
    assert (await client.post(f"/api/sessions/{one}/forward", headers=KEY)).json()["phase"] == "forward"
    assert (await client.get(f"/api/sessions/{one}")).json()["step"] == 1


class GatedStore(MemoryStore):
    """A store whose updates wait at a gate, so a test can hold a request while it runs."""

    def __init__(self) -> None:
        super().__init__(ttl=3600.0, max_sessions=100)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        self.entered.set()
        assert self.gate.wait(timeout=30.0)
        return super().update(session_id, change)


async def test_a_duplicate_while_the_first_runs_is_told_to_come_back() -> None:
    store = GatedStore()
    app = create_app(Settings(store="memory"), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        sid = await new_session(client)
        store.gate.clear()
        first = asyncio.create_task(client.post(f"/api/sessions/{sid}/step", headers=KEY))
        assert await anyio.to_thread.run_sync(store.entered.wait, 30.0)
        duplicate = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        assert duplicate.status_code == 409
        assert duplicate.headers["retry-after"] == "1"
        assert "still running" in duplicate.json()["detail"]
        store.gate.set()
        answered = await first
        assert answered.status_code == 200
        retry = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        assert retry.content == answered.content
        assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 1


async def test_a_key_another_process_holds_is_busy(client: httpx.AsyncClient, store: MemoryStore) -> None:
    """What another process leaves while it runs the request: the pending record."""
    sid = await new_session(client)
    path = f"/api/sessions/{sid}/step"
    scope = {"method": "POST", "path": path, "query_string": b""}
    store.put_record(KIND, record_key(scope, KEY["Idempotency-Key"]), PENDING + fingerprint(scope, b""), 60.0)
    assert (await client.post(path, headers=KEY)).status_code == 409
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0


class FlakyStore(MemoryStore):
    """A store busy for the first ``failures`` updates (503), then fine."""

    def __init__(self, failures: int) -> None:
        super().__init__(ttl=3600.0, max_sessions=100)
        self.failures = failures

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        if self.failures:
            self.failures -= 1
            raise StoreBusyError("locked by another process")
        return super().update(session_id, change)


async def test_a_request_that_failed_leaves_its_key_free() -> None:
    store = FlakyStore(failures=1)
    app = create_app(Settings(store="memory"), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        sid = await new_session(client)
        busy = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        retry = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        assert retry.status_code == 200
        assert "idempotent-replayed" not in retry.headers
        assert retry.json()["step"] == 1


@pytest.mark.parametrize("key", ["x" * (MAX_KEY_LENGTH + 1), "has space", "tab\there", "é".encode()])
async def test_a_malformed_key_is_refused_and_nothing_runs(
    client: httpx.AsyncClient, key: str | bytes
) -> None:
    sid = await new_session(client)
    name = b"Idempotency-Key"
    response = await client.post(
        f"/api/sessions/{sid}/step", headers=[(name, key if isinstance(key, bytes) else key.encode())]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0


async def test_a_key_on_a_route_that_takes_none_is_ignored(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = await new_session(client)
    await client.post(f"/api/sessions/{sid}/forward")
    body = {"unit": [1, 0], "value": 0.5}
    for _ in range(2):
        response = await client.post(f"/api/sessions/{sid}/check", json=body, headers=KEY)
        assert response.status_code == 200
        assert "idempotent-replayed" not in response.headers


async def test_a_body_past_the_limit_is_413_under_a_key(client: httpx.AsyncClient) -> None:
    async def five_megabytes() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * 2**20

    response = await client.post(
        "/api/sessions", content=five_megabytes(), headers={**KEY, "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than 4 MB" in response.json()["detail"]


class UnreachableRecords(MemoryStore):
    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        raise ConnectionError("the store is down")


async def test_a_store_that_cannot_keep_the_key_answers_503_and_runs_nothing() -> None:
    store = UnreachableRecords(ttl=3600.0, max_sessions=100)
    app = create_app(Settings(store="memory"), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post("/api/sessions", headers=KEY)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert store.count() == 0


async def test_keys_are_kept_24_hours() -> None:
    now = [1_000_000.0]
    store = MemoryStore(ttl=7 * 24 * 3600.0, max_sessions=100, clock=lambda: now[0])
    app = create_app(Settings(store="memory"), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        sid = await new_session(client)
        await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        now[0] += KEEP_SECONDS - 60
        assert (await client.post(f"/api/sessions/{sid}/step", headers=KEY)).headers["idempotent-replayed"]
        now[0] += 120
        fresh = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
        assert "idempotent-replayed" not in fresh.headers
        assert fresh.json()["step"] == 2
    assert KEEP_SECONDS >= 24 * 3600 and HOLD_SECONDS > 120


def test_an_answer_too_large_to_keep_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = Answer(200, (("content-type", "application/json"),), json.dumps({"x": 1}).encode())
    assert Answer.unpack(answer.pack() or b"") == answer
    monkeypatch.setattr(idempotency, "MAX_ANSWER_BYTES", 10)
    assert answer.pack() is None


async def test_an_applied_request_whose_answer_was_too_large_says_so(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = await new_session(client)
    monkeypatch.setattr(idempotency, "MAX_ANSWER_BYTES", 10)
    assert (await client.post(f"/api/sessions/{sid}/step", headers=KEY)).status_code == 200
    retry = await client.post(f"/api/sessions/{sid}/step", headers=KEY)
    assert retry.status_code == 409
    assert "was applied" in retry.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 1


def two_apps(path: Path) -> tuple[FastAPI, FastAPI]:
    """Two app instances, each with its own store object, on one SQLite file: two processes."""
    settings = Settings(store="sqlite", data_dir=path)
    return (
        create_app(settings, store=SqliteStore(path / "s.sqlite3", ttl=3600.0, max_sessions=100)),
        create_app(settings, store=SqliteStore(path / "s.sqlite3", ttl=3600.0, max_sessions=100)),
    )


async def test_a_key_holds_across_two_apps_on_one_sqlite_file(tmp_path: Path) -> None:
    one, two = two_apps(tmp_path)
    transport_one, transport_two = httpx.ASGITransport(app=one), httpx.ASGITransport(app=two)
    async with (
        httpx.AsyncClient(transport=transport_one, base_url="http://testserver") as first,
        httpx.AsyncClient(transport=transport_two, base_url="http://testserver") as second,
    ):
        created = await first.post("/api/sessions", json={"seed": 5}, headers=KEY)
        again = await second.post("/api/sessions", json={"seed": 5}, headers=KEY)
        assert again.headers["idempotent-replayed"] == "true"
        sid = created.json()["id"]
        assert again.json()["id"] == sid
        trained = await first.post(f"/api/sessions/{sid}/train", json={"epochs": 3}, headers=KEY)
        retried = await second.post(f"/api/sessions/{sid}/train", json={"epochs": 3}, headers=KEY)
        assert retried.content == trained.content
        other = await second.post(f"/api/sessions/{sid}/train", json={"epochs": 4}, headers=KEY)
        assert other.status_code == 422
        state: dict[str, Any] = (await second.get(f"/api/sessions/{sid}")).json()
        assert state["step"] == 3
        assert one.state.store.count() == 1
