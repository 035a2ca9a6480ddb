"""Training in worker processes (app/train_pool.py): the same session as training in this process,
on every store and whatever the history holds; the session's own refusals come back; a busy pool
refuses at once; a worker that dies fails its training, not the pool."""

from __future__ import annotations

import functools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app import session
from app.errors import DivergenceError, InvalidInputError, TrainingBusyError
from app.limits import MAX_HISTORY
from app.session import Session, create, restore, run_forward, run_step
from app.store import MemoryStore, RedisStore, SessionStore, SqliteStore
from app.train_pool import RETRY_AFTER_SECONDS, TrainingPool
from tests.processes import clean_environment, free_port, started
from tests.redis_server import wait_until
from tests.test_session import assert_sessions_equal, stepped

TTL = 3600.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SessionStore, SessionStore]]:
    """Two stores of one kind, apart: one trained through the pool, the other in this process."""
    made: list[SessionStore] = []
    for name in ("pool", "here"):
        if request.param == "memory":
            made.append(MemoryStore(ttl=TTL, max_sessions=10))
        elif request.param == "sqlite":
            made.append(SqliteStore(tmp_path / name / "s.sqlite3", ttl=TTL, max_sessions=10))
        else:
            url: str = request.getfixturevalue("redis_url")
            made.append(RedisStore(url[:-1] + ("1" if name == "pool" else "2"), ttl=TTL, max_sessions=10))
    yield made[0], made[1]
    for store in made:
        if isinstance(store, RedisStore):
            store._client.flushdb()  # the databases beside the fixture's, which it does not empty
        store.close()


def _after_a_restore(s: Session) -> Session:
    """Trained 30 steps, then back to step 10: 20 losses and kept states lie beyond the step."""
    return restore(stepped(s, 30), 10)


#: Where the training starts from: a fresh session, one in mid-step, one whose history runs past
#: its step, and one with as many kept states as are kept (the training thins them).
STARTS: dict[str, Callable[[Session], Session]] = {
    "fresh": lambda s: s,
    "forward": run_forward,
    "restored": _after_a_restore,
    "full": lambda s: session.train(s, MAX_HISTORY),
}


@pytest.mark.parametrize("start", list(STARTS))
def test_a_training_in_a_process_stores_the_same_session_as_one_here(
    stores: tuple[SessionStore, SessionStore], training_pool: TrainingPool, start: str
) -> None:
    in_pool, here = stores
    for store in stores:
        store.add(create("x", dataset="xor", layers=[2, 4, 1], seed=5))
        store.update("x", STARTS[start])
    trained = in_pool.update("x", functools.partial(training_pool.train, epochs=300))
    expected = here.update("x", lambda s: session.train(s, 300))
    assert_sessions_equal(trained, expected)
    assert_sessions_equal(in_pool.get("x"), here.get("x"))
    # And it goes on from there alike (its stored history is whole).
    assert_sessions_equal(in_pool.update("x", session.undo), here.update("x", session.undo))
    assert_sessions_equal(in_pool.update("x", run_step), here.update("x", run_step))


def test_steps_in_a_process_say_how_long_they_took(training_pool: TrainingPool) -> None:
    store = MemoryStore(ttl=TTL, max_sessions=10)
    store.add(create("x"))
    took: list[float] = []

    def change(current: Session) -> Session:
        trained, seconds = training_pool.run_steps(current, 50)
        took.append(seconds)
        return trained

    assert_sessions_equal(store.update("x", change), stepped(create("x"), 50))
    assert len(took) == 1 and 0 < took[0] < 60


@pytest.mark.parametrize(
    ("epochs", "learning_rate", "error"),
    [(0, 0.5, InvalidInputError), (100_001, 0.5, InvalidInputError), (50, 100.0, DivergenceError)],
)
def test_the_sessions_refusals_come_back_and_change_nothing(
    training_pool: TrainingPool, epochs: int, learning_rate: float, error: type[Exception]
) -> None:
    store = MemoryStore(ttl=TTL, max_sessions=10)
    # A linear unit on a large input: η = 100 sends its weight past ±1e6 on the first update.
    linear = create(
        "x",
        layers=[1, 1],
        activation="linear",
        output_activation="linear",
        weights=[[[1.0]]],
        biases=[[0.0]],
        input=[1000.0],
        target=[0.0],
        learning_rate=learning_rate,
    )
    store.add(linear)
    before = store.get("x")
    with pytest.raises(error):
        store.update("x", functools.partial(training_pool.train, epochs=epochs))
    assert_sessions_equal(store.get("x"), before)


def test_only_a_stored_session_is_shipped(training_pool: TrainingPool) -> None:
    with pytest.raises(ValueError, match="stored session"):
        training_pool.train(create("never-stored"), 1)


def test_a_slot_is_refused_at_once_when_all_are_taken() -> None:
    pool = TrainingPool(2)
    with pool.slot(), pool.slot():
        with pytest.raises(TrainingBusyError) as refused, pool.slot():
            pass  # pragma: no cover - never entered
        assert refused.value.retry_after == RETRY_AFTER_SECONDS
    with pool.slot(), pool.slot():  # both given back
        pass
    assert pool.worker_pids() == []  # slots alone start no process


def test_a_worker_killed_mid_training_fails_that_training_and_not_the_next() -> None:
    pool = TrainingPool(1)
    store = MemoryStore(ttl=TTL, max_sessions=10)
    store.add(create("x", dataset="xor", layers=[2, 4, 1]))
    before = store.get("x")
    outcome: list[BaseException] = []

    def train() -> None:
        try:
            store.update("x", functools.partial(pool.train, epochs=100_000))
        except TrainingBusyError as exc:
            outcome.append(exc)

    try:
        worker = threading.Thread(target=train)
        worker.start()
        wait_until(lambda: len(pool.worker_pids()) >= 1, 30, "a training process")
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        worker.join(60)
        assert len(outcome) == 1 and "stopped before it finished" in str(outcome[0])
        assert_sessions_equal(store.get("x"), before)
        trained = store.update("x", functools.partial(pool.train, epochs=3))
        assert trained.step == 12
    finally:
        pool.shutdown()


# --------------------------------------------------------------------------------------------
# A real server while every slot trains
# --------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-c", "from app.cli import main; main()"]
SLOTS = 2
#: Two samples, so 100,000 epochs are 200,000 steps: several seconds in a training process.
TWO_SAMPLES = {"inputs": [[0.05, 0.1], [0.9, 0.2]], "targets": [[0.01, 0.99], [0.99, 0.01]]}
#: Requests measured while the trainings run (each kind); generous, so one slow answer moves the
#: 95th percentile little.
SAMPLES = 150


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (its children, theirs, ...), read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def timed(http: httpx.Client, method: str, url: str) -> float:
    began = time.perf_counter()
    response = http.request(method, url)
    took = time.perf_counter() - began
    assert response.status_code == 200, response.text
    return took


def test_a_server_stays_responsive_while_every_training_slot_is_busy(tmp_path: Path) -> None:
    """SLOTS + 2 concurrent trains of 100,000 epochs: two are refused (503, Retry-After); while the
    others train, /healthz answers within 100 ms and another session's step within 250 ms (95th
    percentiles of SAMPLES each). A server killed afterwards leaves no training process behind."""
    port = free_port()
    env = clean_environment(
        BACKPROP_STORE="sqlite",
        BACKPROP_DATA_DIR=str(tmp_path / "data"),
        BACKPROP_PORT=str(port),
        BACKPROP_TRAIN_SLOTS=str(SLOTS),
        PYTHONPATH=str(REPO),
    )
    with started(COMMAND, port, env, tmp_path, tmp_path / "server.log") as server:
        http = server.http
        trained = [
            http.post("/api/sessions", json={"dataset": TWO_SAMPLES}).json()["id"] for _ in range(SLOTS + 2)
        ]
        other = http.post("/api/sessions").json()["id"]
        base = str(http.base_url)

        def train(sid: str) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=600.0) as own:
                return own.post(f"/api/sessions/{sid}/train", json={"epochs": 100_000})

        with ThreadPoolExecutor(max_workers=len(trained)) as clients:
            trains = [clients.submit(train, sid) for sid in trained]
            wait_until(lambda: sum(f.done() for f in trains) >= 2, 60, "two trains to be refused")
            running = [f for f in trains if not f.done()]
            assert len(running) == SLOTS
            healthz: list[float] = []
            steps: list[float] = []
            while len(steps) < SAMPLES and not any(f.done() for f in running):
                healthz.append(timed(http, "GET", "/healthz"))
                steps.append(timed(http, "POST", f"/api/sessions/{other}/step"))
            still_training = not any(f.done() for f in running)
            answers = [f.result() for f in trains]
        refused = [a for a in answers if a.status_code == 503]
        assert len(refused) == 2 and all(a.headers["retry-after"] == "5" for a in refused)
        assert all(a.json()["step"] == 200_000 for a in answers if a.status_code == 200)
        assert still_training, f"the trainings ended after {len(steps)} samples: make them longer"
        assert p95(healthz) < 0.100, f"/healthz p95 {p95(healthz) * 1000:.1f} ms"
        assert p95(steps) < 0.250, f"step p95 {p95(steps) * 1000:.1f} ms"
        workers = descendants(server.process.pid)
        assert len(workers) >= SLOTS  # the training processes (and the fork server) are there
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in workers), 30, "the training processes to end")
