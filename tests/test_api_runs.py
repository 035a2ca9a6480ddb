"""Background training runs over the API: start, progress, cancel."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def new(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/sessions")
    sid: str = response.json()["id"]
    return sid


async def until_ended(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    for _ in range(600):
        state: dict[str, Any] = (await client.get(f"/api/sessions/{sid}/runs")).json()
        if state["state"] != "running":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not end")


async def test_a_run_ends_with_the_same_session_as_train(client: httpx.AsyncClient) -> None:
    a, b = await new(client), await new(client)
    started = await client.post(f"/api/sessions/{a}/runs", json={"epochs": 200})
    assert started.status_code == 202
    assert started.json()["state"] == "running" and started.json()["steps_total"] == 200
    ended = await until_ended(client, a)
    assert ended["state"] == "done" and ended["steps_done"] == 200 and ended["finished"] is not None
    trained = (await client.post(f"/api/sessions/{b}/train", json={"epochs": 200})).json()
    state = (await client.get(f"/api/sessions/{a}")).json()
    assert state["weights"] == trained["weights"] and state["recent_losses"] == trained["recent_losses"]


async def test_one_run_at_a_time_and_cancel(client: httpx.AsyncClient) -> None:
    sid = await new(client)
    assert (await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 100000})).status_code == 202
    second = await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 5})
    assert second.status_code == 409 and "already going on" in second.json()["detail"]
    # the session answers while the run goes on
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 200
    cancelled = await client.delete(f"/api/sessions/{sid}/runs")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelled" and 0 < body["steps_done"] < 100000
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == body["steps_done"]


async def test_errors(client: httpx.AsyncClient) -> None:
    sid = await new(client)
    assert (await client.get(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.delete(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.get("/api/sessions/nope/runs")).status_code == 404
    assert (await client.post("/api/sessions/nope/runs", json={"epochs": 1})).status_code == 404
    bad = await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 0})
    assert bad.status_code == 422 and "epochs" in bad.json()["detail"]
