"""Prometheus metrics: requests by route template and status, latency, sessions, runs, store errors;
off with BACKPROP_METRICS=0; several worker processes add up."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.session import Session
from app.settings import Settings
from app.store import MemoryStore, StoreBusyError
from tests.processes import clean_environment, free_port, running

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parent.parent

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_of(scraped: Samples) -> dict[tuple[str, str, str], float]:
    """backprop_http_requests_total as (method, route, status) → count."""
    found = {}
    for (name, labels), value in scraped.items():
        if name == "backprop_http_requests_total":
            by = dict(labels)
            found[(by["method"], by["route"], by["status"])] = value
    return found


def value(scraped: Samples, name: str, **labels: str) -> float | None:
    return scraped.get((name, tuple(sorted(labels.items()))))


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: an unhandled error answers 500 as it would to a real client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(app):
        yield client


async def test_requests_are_counted_by_route_template_and_status(http: httpx.AsyncClient) -> None:
    sid = (await http.post("/api/sessions")).json()["id"]
    assert (await http.post(f"/api/sessions/{sid}/step")).status_code == 200
    assert (await http.post(f"/api/sessions/{sid}/step")).status_code == 200
    assert (await http.post(f"/api/sessions/{sid}/backward")).status_code == 409
    assert (await http.get("/api/sessions/no-such-session")).status_code == 404
    assert (await http.get(f"/nowhere/{sid}")).status_code == 404
    assert (await http.get("/static/app.css")).status_code == 200
    assert (await http.request("BREW", "/healthz")).status_code == 405
    scrape = await http.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    assert sid not in scrape.text and "no-such-session" not in scrape.text and "nowhere" not in scrape.text
    scraped = samples(scrape.text)
    assert requests_of(scraped) == {
        ("POST", "/api/sessions", "201"): 1.0,
        ("POST", "/api/sessions/{session_id}/step", "200"): 2.0,
        ("POST", "/api/sessions/{session_id}/backward", "409"): 1.0,
        ("GET", "/api/sessions/{session_id}", "404"): 1.0,
        ("GET", "unmatched", "404"): 1.0,
        ("GET", "/static/{path}", "200"): 1.0,
        ("other", "/healthz", "405"): 1.0,
    }
    step = {"method": "POST", "route": "/api/sessions/{session_id}/step"}
    assert value(scraped, "backprop_http_request_duration_seconds_count", **step) == 2.0
    assert value(scraped, "backprop_http_request_duration_seconds_bucket", **step, le="+Inf") == 2.0
    assert value(scraped, "backprop_sessions") == 1.0
    assert value(scraped, "backprop_training_runs_running") == 0.0
    # The scrape itself is counted by the next one.
    again = requests_of(samples((await http.get("/metrics")).text))
    assert again[("GET", "/metrics", "200")] == 1.0


async def test_metrics_off_means_no_route_and_no_counting() -> None:
    app = create_app(Settings(store="memory", metrics=False), store=MemoryStore(ttl=60.0, max_sessions=10))
    async for http in client_for(app):
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 404
    assert not hasattr(app.state, "metrics")


class GatedStore(MemoryStore):
    """A memory store whose updates wait for a gate: a training run stays running until it opens."""

    def __init__(self) -> None:
        super().__init__(ttl=3600.0, max_sessions=10)
        self.gate = threading.Event()

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        self.gate.wait(timeout=30)
        return super().update(session_id, change)


async def test_running_training_runs_are_a_gauge() -> None:
    store = GatedStore()
    app = create_app(Settings(store="memory"), store=store)
    async for http in client_for(app):
        sid = (await http.post("/api/sessions")).json()["id"]
        assert (await http.post(f"/api/sessions/{sid}/runs", json={"epochs": 3})).status_code == 202
        running = samples((await http.get("/metrics")).text)
        assert value(running, "backprop_training_runs_running") == 1.0
        store.gate.set()
        assert app.state.runs.wait(sid, timeout=30).state == "done"
        ended = samples((await http.get("/metrics")).text)
        assert value(ended, "backprop_training_runs_running") == 0.0


class FailingStore(MemoryStore):
    """A memory store whose reads fail with a given error (the store, not the session, is at fault)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(ttl=3600.0, max_sessions=10)
        self.error = error

    def get(self, session_id: str) -> Session:
        raise self.error

    def count(self) -> int:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "name"),
    [
        (StoreBusyError("locked"), 503, "StoreBusyError"),
        (sqlite3.OperationalError("database is locked"), 503, "OperationalError"),
        (sqlite3.DatabaseError("disk I/O error"), 500, "DatabaseError"),
    ],
)
async def test_store_errors_are_counted_by_type_and_answered_as_before(
    error: Exception, status: int, name: str
) -> None:
    app = create_app(Settings(store="memory"), store=FailingStore(error))
    async for http in client_for(app):
        assert (await http.get("/api/sessions/abc")).status_code == status
        scrape = await http.get("/metrics")
        assert scrape.status_code == 200  # the sessions gauge cannot be read: left out, and counted
        scraped = samples(scrape.text)
        assert value(scraped, "backprop_sessions") is None
        assert value(scraped, "backprop_store_errors_total", error=name) == 2.0
        assert requests_of(scraped)[("GET", "/api/sessions/{session_id}", str(status))] == 1.0


def test_the_counts_of_several_worker_processes_add_up(tmp_path: Path) -> None:
    """Three processes share one PROMETHEUS_MULTIPROC_DIR, as `backprop-viz --workers N` arranges:
    two serve requests, the third scrapes and sees the sum. A worker that shut down cleanly leaves
    the running-runs gauge; one that did not (killed) still counts in it."""
    worker = textwrap.dedent(
        """
        import sys
        from fastapi.testclient import TestClient
        from app.main import create_app
        from app.settings import Settings
        app = create_app(Settings(store="memory"))
        requests, runs, clean = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "clean"
        client = TestClient(app)
        if clean:
            client.__enter__()  # runs the lifespan, whose end marks this worker gone
        app.state.runs.on_active_count(runs)
        for _ in range(requests):
            assert client.get("/healthz").status_code == 200
        if clean:
            client.__exit__(None, None, None)
        else:
            print(client.get("/metrics").text)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKPROP_")}
    env.update(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), BACKPROP_STORE="memory", PYTHONPATH=str(REPO))
    for requests, runs, mode in ((3, 2, "clean"), (4, 1, "killed")):
        subprocess.run([sys.executable, "-c", worker, str(requests), str(runs), mode], env=env, check=True)
    scrape = subprocess.run(
        [sys.executable, "-c", worker, "0", "0", "scrape"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    scraped = samples(scrape)
    assert requests_of(scraped)[("GET", "/healthz", "200")] == 7.0
    assert value(scraped, "backprop_training_runs_running") == 1.0
    assert value(scraped, "backprop_sessions") == 0.0  # the scraping worker's store


def test_backprop_viz_with_two_workers_serves_one_sum(tmp_path: Path) -> None:
    """The real thing: two uvicorn workers behind one port, requests on fresh connections (so either
    worker may take each); every scrape, whichever worker answers it, counts them all."""
    port = free_port()
    env = clean_environment(BACKPROP_STORE="memory", BACKPROP_PORT=str(port), PYTHONPATH=str(REPO))
    command = [sys.executable, "-c", "from app.cli import main; main()", "--workers", "2"]
    with running(command, port, env, tmp_path, tmp_path / "server.log") as http:
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        for _ in range(4):
            scraped = samples(http.get("/metrics", headers={"Connection": "close"}).text)
            assert requests_of(scraped)[("GET", "/readyz", "200")] == 20.0
    assert "Started parent process" in (tmp_path / "server.log").read_text()
