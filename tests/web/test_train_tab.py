"""The Train tab's routes: background runs from the page, the loss curve, the history timeline."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from app import session
from app.store import MemoryStore
from app.training import RunStatus
from tests.web.page import (
    HX,
    new_cookie,
    page_session,
)

pytestmark = pytest.mark.anyio


async def test_chart_draws_the_loss_history(client: httpx.AsyncClient) -> None:
    await page_session(client)
    empty = (await client.get("/?tab=train")).text
    assert 'data-count="0"' in empty and "<polyline" not in empty
    for _ in range(3):
        await client.post("/page/step", headers=HX)
    page = (await client.get("/?tab=train")).text
    assert 'data-count="3"' in page and 'data-points="3"' in page
    points = re.search(r'<polyline class="curve" points="([^"]+)"', page)
    assert points is not None and len(points.group(1).split()) == 3


async def test_train_runs_in_the_background_and_equals_training(
    client: httpx.AsyncClient, app: FastAPI, store: MemoryStore
) -> None:
    sid = await page_session(client)
    started = await client.post("/page/train", data={"epochs": "300", "tab": "train"}, headers=HX)
    assert started.status_code == 200
    assert app.state.runs.wait(sid, timeout=30).state == "done"
    shown = await client.get("/page/run?tab=train", headers=HX)
    assert 'data-run-state="done"' in shown.text
    assert "every 500ms" not in shown.text  # polling stops once the run has ended
    assert 'data-count="300"' in shown.text
    expected = session.train(session.create(sid), 300)
    trained = store.get(sid)
    assert trained.step == 300
    for a, b in zip(trained.params.weights, expected.params.weights, strict=True):
        assert np.array_equal(a, b)
    assert trained.loss_history == expected.loss_history


async def test_a_running_train_polls_and_can_be_cancelled(client: httpx.AsyncClient, app: FastAPI) -> None:
    sid = await page_session(client)
    started = await client.post("/page/train", data={"epochs": "100000", "tab": "train"}, headers=HX)
    assert 'hx-trigger="every 500ms"' in started.text and "<progress" in started.text
    again = await client.post("/page/train", data={"epochs": "10", "tab": "train"}, headers=HX)
    assert again.status_code == 422
    assert "already going on" in again.text
    cancelled = await client.post("/page/cancel", data={"tab": "train"}, headers=HX)
    assert 'data-run-state="cancelled"' in cancelled.text
    status = app.state.runs.status(sid)
    assert status.state == "cancelled" and 0 < status.steps_done < 100000
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert state["step"] == status.steps_done


async def test_without_a_session_the_first_train_keeps_the_network_and_runs(
    client: httpx.AsyncClient, app: FastAPI, store: MemoryStore
) -> None:
    client.cookies.clear()
    bad = await client.post("/page/train", data={"epochs": "0", "tab": "train"}, headers=HX)
    assert bad.status_code == 422 and store.count() == 0  # a refused form keeps nothing
    started = await client.post("/page/train", data={"epochs": "30", "tab": "train"}, headers=HX)
    assert started.status_code == 204 and started.headers["hx-redirect"] == "/?tab=train"
    sid = new_cookie(started)
    assert app.state.runs.wait(sid, timeout=30).state == "done"
    assert store.get(sid).step == 30 and store.count() == 1
    client.cookies.clear()
    restored = await client.post("/page/restore", data={"index": "0", "tab": "train"}, headers=HX)
    assert restored.status_code == 204 and store.get(new_cookie(restored)).step == 0


async def test_reset_cancels_a_running_train(client: httpx.AsyncClient, app: FastAPI) -> None:
    sid = await page_session(client)
    await client.post("/page/train", data={"epochs": "100000", "tab": "train"}, headers=HX)
    reset = await client.post("/page/reset", data={"confirmed": "1"}, headers=HX)
    assert reset.status_code == 200
    assert app.state.runs.status(sid).state == "cancelled"  # ended before the reset
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0


@pytest.mark.parametrize(
    ("epochs", "message"),
    [("abc", "enter a whole number"), ("0", "must lie in 1..100,000"), ("100001", "must lie in 1..100,000")],
)
async def test_bad_epochs_are_refused(
    client: httpx.AsyncClient, app: FastAPI, epochs: str, message: str
) -> None:
    sid = await page_session(client)
    response = await client.post("/page/train", data={"epochs": epochs, "tab": "train"}, headers=HX)
    assert response.status_code == 422
    assert message in response.text
    assert app.state.runs.status(sid) is None


async def test_timeline_restores_a_kept_state(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = await page_session(client)
    for _ in range(5):
        await client.post("/page/step", headers=HX)
    response = await client.post("/page/restore", data={"index": "2", "tab": "train"}, headers=HX)
    assert response.status_code == 200
    restored = store.get(sid)
    fresh = session.create(sid)
    for _ in range(2):
        fresh = session.run_step(fresh)
    assert restored.step == 2 and restored.phase == "updated"
    for a, b in zip(restored.params.weights, fresh.params.weights, strict=True):
        assert np.array_equal(a, b)
    assert 'name="index" min="0" max="5" value="2"' in response.text
    bad = await client.post("/page/restore", data={"index": "9", "tab": "train"}, headers=HX)
    assert bad.status_code == 422 and "choose a kept state 0..5" in bad.text
    assert store.get(sid).step == 2


async def test_without_javascript_the_forms_redirect(client: httpx.AsyncClient, app: FastAPI) -> None:
    sid = await page_session(client)
    response = await client.post("/page/train", data={"epochs": "5", "tab": "train"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?tab=train"
    app.state.runs.wait(sid, timeout=30)
    response = await client.post("/page/restore", data={"index": "1", "tab": "train"}, follow_redirects=False)
    assert response.status_code == 303
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 1


async def test_the_tabs_forms_keep_the_whole_view(client: httpx.AsyncClient) -> None:
    await page_session(client)
    for _ in range(2):
        await client.post("/page/step", headers=HX)
    page = (await client.get("/?tab=train&select=loss&quiz=1")).text
    train = page[page.index('<section class="train">') :]
    forms = re.findall(r"<form [^>]*>.*?</form>", train, flags=re.DOTALL)
    assert len(forms) == 2  # the train form and the timeline
    for form in forms:
        for name, value in (("tab", "train"), ("select", "loss"), ("quiz", "1")):
            assert f'<input type="hidden" name="{name}" value="{value}">' in form, form


async def test_a_poll_never_shows_a_run_done_beside_a_network_from_before_its_end(
    client: httpx.AsyncClient, app: FastAPI, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's last chunk may land while a poll is being answered. The poll reads the run's
    status first (a run says "done" only once its last chunk is stored), so it shows either "still
    running" or "done" with every step, never "done" with the network of a chunk before."""
    sid = await page_session(client)
    runs = app.state.runs
    ended: list[bool] = []
    real_get = store.get

    def status(session_id: str) -> RunStatus | None:
        if ended:
            return RunStatus(session_id, "done", 1, 2, 2, None, 0.0, 1.0, "")
        return RunStatus(session_id, "running", 1, 2, 1, None, 0.0, None, "")

    def get(session_id: str) -> session.Session:
        loaded = real_get(session_id)
        if session_id == sid and not ended:  # the last chunk lands just after this read
            store.update(sid, session.run_step)
            ended.append(True)
        return loaded

    await client.post("/page/step", headers=HX)  # the run's first step, before the poll
    monkeypatch.setattr(runs, "status", status)
    monkeypatch.setattr(store, "get", get)
    poll = (await client.get("/page/run?tab=train", headers=HX)).text
    count = re.search(r'data-count="(\d+)"', poll)
    state = re.search(r'data-run-state="(\w+)"', poll)
    assert count is not None and state is not None
    assert not (state.group(1) == "done" and count.group(1) != "2")
    assert state.group(1) == "running"  # the status was read before the last chunk landed
    assert ended == [True]
