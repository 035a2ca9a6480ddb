"""Background training runs: chunked, atomic per chunk, cancellable, time-limited, one per session.

Every test waits with a short polling loop (2 ms) under a timeout, and the ``runs`` fixture cancels
and joins every run thread before the test ends.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from app import session
from app.errors import DivergenceError, InvalidInputError, PhaseError, SessionNotFoundError
from app.session import Session
from app.store import MemoryStore, SessionStore, SqliteStore
from app.training import Runs, RunStatus
from tests.test_store import FakeClock

WAIT = 20.0  # seconds: a generous bound; the waits normally end within milliseconds
LONG = 100_000  # epochs: far more than any test lets finish


class CountingStore(MemoryStore):
    """A MemoryStore that counts updates, to see the chunks."""

    def __init__(self) -> None:
        super().__init__(ttl=3600.0, max_sessions=100)
        self.updates = 0

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        self.updates += 1
        return super().update(session_id, change)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def runs(store: CountingStore) -> Iterator[Runs]:
    registry = Runs(store)
    yield registry
    registry.shutdown(timeout=WAIT)
    assert registry.active_count() == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("train-")]


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.002)


def finished(runs: Runs, session_id: str) -> RunStatus:
    wait_until(lambda: (s := runs.status(session_id)) is not None and not s.active)
    status = runs.status(session_id)
    assert status is not None
    return status


def add(store: SessionStore, new: Session) -> Session:
    store.add(new)
    return new


def xor(store: SessionStore, session_id: str = "s", mode: session.Mode = "batch") -> Session:
    return add(
        store, session.create(session_id, layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode=mode)
    )


def assert_same_params(ours: Session, theirs: Session) -> None:
    for a, b in zip(
        ours.params.weights + ours.params.biases, theirs.params.weights + theirs.params.biases, strict=True
    ):
        assert np.array_equal(a, b)


# --------------------------------------------------------------------------------------------
# Runs that end on their own
# --------------------------------------------------------------------------------------------


def test_a_run_equals_the_same_epochs_of_train(store: CountingStore) -> None:
    runs = Runs(store, chunk_seconds=0.0005)  # tiny chunks: many of them
    try:
        original = xor(store, mode="sgd")  # 4 steps per epoch
        started = runs.start("s", 60, seconds_limit=WAIT)
        assert started.state == "running" and started.steps_total == 240 and started.epochs == 60
        status = finished(runs, "s")
    finally:
        runs.shutdown(timeout=WAIT)
    assert status.state == "done", status.message
    assert status.steps_done == status.steps_total == 240
    assert status.message == "trained 60 epochs (240 steps)"
    assert status.finished is not None and status.finished >= status.started
    assert store.updates > 2  # it ran in several chunks
    stored = store.get("s")
    expected = session.train(original, 60)
    assert_same_params(stored, expected)  # bit for bit
    assert stored.step == expected.step == 240
    assert stored.loss_history == expected.loss_history
    assert stored.sample_index == expected.sample_index and stored.phase == expected.phase == "updated"
    assert status.loss == stored.loss_history[-1]


def test_a_run_on_the_sqlite_store_equals_train(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "sessions.sqlite3", ttl=3600.0, max_sessions=10)
    runs = Runs(sqlite)
    try:
        original = xor(sqlite, mode="sgd")
        runs.start("s", 40, seconds_limit=WAIT)
        assert finished(runs, "s").state == "done"
        stored = sqlite.get("s")
        expected = session.train(original, 40)
        assert_same_params(stored, expected)
        assert stored.step == 160 and stored.loss_history == expected.loss_history
    finally:
        runs.shutdown(timeout=WAIT)
        sqlite.close()


def test_a_run_in_batch_mode_counts_one_step_per_epoch(store: CountingStore, runs: Runs) -> None:
    original = xor(store)
    assert runs.start("s", 30, seconds_limit=WAIT).steps_total == 30
    assert finished(runs, "s").state == "done"
    assert_same_params(store.get("s"), session.train(original, 30))


# --------------------------------------------------------------------------------------------
# One run per session; cancel; time limit
# --------------------------------------------------------------------------------------------


def test_a_second_start_while_running_is_refused(store: CountingStore, runs: Runs) -> None:
    xor(store)
    xor(store, "other")
    runs.start("s", LONG, seconds_limit=WAIT)
    with pytest.raises(PhaseError, match="already going on for this session"):
        runs.start("s", 10, seconds_limit=WAIT)
    runs.start("other", 5, seconds_limit=WAIT)  # another session may run meanwhile
    assert finished(runs, "other").state == "done"
    runs.cancel("s")
    assert finished(runs, "s").state == "cancelled"
    # Once the run has ended, a new one may start.
    runs.start("s", 5, seconds_limit=WAIT)
    assert finished(runs, "s").state == "done"


def test_cancel_stops_early_and_leaves_the_session_consistent(store: CountingStore, runs: Runs) -> None:
    original = xor(store)
    runs.start("s", LONG, seconds_limit=WAIT)
    wait_until(lambda: (s := runs.status("s")) is not None and s.steps_done > 0)
    asked = runs.cancel("s")
    assert asked is not None and asked.session_id == "s"
    status = finished(runs, "s")
    assert status.state == "cancelled"
    assert 0 < status.steps_done < status.steps_total == LONG
    assert status.message == f"cancelled after {status.steps_done} of {LONG} steps"
    stored = store.get("s")
    assert stored.step == status.steps_done == len(stored.loss_history)
    assert_same_params(stored, session.train(original, status.steps_done))  # batch: a step an epoch
    assert runs.cancel("s") == status  # cancelling a finished run changes nothing


def test_an_ended_run_can_be_forgotten_an_active_one_not(store: CountingStore, runs: Runs) -> None:
    xor(store)
    assert runs.forget("s") is None
    runs.start("s", LONG, seconds_limit=WAIT)
    wait_until(lambda: (s := runs.status("s")) is not None and s.steps_done > 0)
    assert runs.forget("s") is None
    assert runs.status("s") is not None
    runs.cancel("s")
    ended = finished(runs, "s")
    assert runs.forget("s") == ended
    assert runs.status("s") is None
    assert runs.forget("s") is None


def test_a_run_past_its_time_limit_times_out(store: CountingStore, runs: Runs) -> None:
    xor(store)
    runs.start("s", LONG, seconds_limit=0.05)
    status = finished(runs, "s")
    assert status.state == "timeout"
    assert 0 < status.steps_done < LONG
    assert status.message == f"stopped at the time limit after {status.steps_done} of {LONG} steps"
    assert store.get("s").step == status.steps_done


def test_divergence_leaves_the_session_at_the_last_good_chunk(store: CountingStore, runs: Runs) -> None:
    # y = w x + b, linear, x = 1, t = 0, η = 1.5: each step maps the error e to −2e, so the
    # parameters pass 1e6 after about 20 steps.
    original = add(
        store,
        session.create(
            "s",
            layers=[1, 1],
            output_activation="linear",
            weights=[[[1.0]]],
            biases=[[0.0]],
            input=[1.0],
            target=[0.0],
            learning_rate=1.5,
        ),
    )
    diverges_at = next(k for k in range(1, 100) if not _trains(original, k))
    runs.start("s", 1000, seconds_limit=WAIT)
    status = finished(runs, "s")
    assert status.state == "diverged"
    assert "diverged" in status.message and "lower the learning rate" in status.message
    assert 0 < status.steps_done < diverges_at  # the chunk that diverged was not applied
    stored = store.get("s")
    assert stored.step == status.steps_done
    assert_same_params(stored, session.run_steps(original, status.steps_done))


def _trains(start: Session, steps: int) -> bool:
    try:
        session.run_steps(start, steps)
    except DivergenceError:
        return False
    return True


def test_a_session_that_disappears_ends_the_run(store: CountingStore, runs: Runs) -> None:
    xor(store)
    runs.start("s", LONG, seconds_limit=WAIT)
    wait_until(lambda: (s := runs.status("s")) is not None and s.steps_done > 0)
    store.delete("s")
    status = finished(runs, "s")
    assert status.state == "failed"
    assert "the session no longer exists" in status.message


# --------------------------------------------------------------------------------------------
# Other requests interleave
# --------------------------------------------------------------------------------------------


def test_other_requests_on_the_session_get_in_between_chunks(store: CountingStore, runs: Runs) -> None:
    xor(store)
    runs.start("s", LONG, seconds_limit=WAIT)
    wait_until(lambda: (s := runs.status("s")) is not None and s.steps_done > 0)
    began = time.monotonic()
    forwarded = store.update("s", session.run_forward)
    waited = time.monotonic() - began
    during = runs.status("s")
    assert during is not None and during.active  # the run was still going on
    assert forwarded.phase == "forward"
    assert waited < 1.0  # a chunk or two (about 20 ms each), not the whole run (many seconds)
    assert store.get("s").step >= forwarded.step  # the run goes on from the new state
    runs.cancel("s")
    status = finished(runs, "s")
    assert status.state == "cancelled"
    assert store.get("s").step == status.steps_done


# --------------------------------------------------------------------------------------------
# Validation and bookkeeping
# --------------------------------------------------------------------------------------------


def test_start_validates_like_train(store: CountingStore, runs: Runs) -> None:
    xor(store)
    add(store, session.create("ring", dataset="circle"))  # 24 samples, SGD
    with pytest.raises(InvalidInputError, match=r"epochs: must lie in 1\.\.100000, got 0$"):
        runs.start("s", 0, seconds_limit=WAIT)
    with pytest.raises(InvalidInputError, match=r"epochs: must lie in 1\.\.100000, got 100001$"):
        runs.start("s", 100_001, seconds_limit=WAIT)
    with pytest.raises(InvalidInputError, match="are 2400000 steps; one run takes at most 1000000"):
        runs.start("ring", LONG, seconds_limit=WAIT)
    with pytest.raises(InvalidInputError, match="seconds_limit"):
        runs.start("s", 5, seconds_limit=0.0)
    with pytest.raises(SessionNotFoundError):
        runs.start("nobody", 5, seconds_limit=WAIT)
    assert runs.status("s") is None and runs.active_count() == 0


def test_unknown_sessions_have_no_status(runs: Runs) -> None:
    assert runs.status("nobody") is None
    assert runs.cancel("nobody") is None


def test_finished_statuses_are_kept_for_a_while() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=3600.0, max_sessions=100, clock=clock)
    runs = Runs(store, status_seconds=60.0)
    try:
        for name in ("a", "b"):
            xor(store, name)
            runs.start(name, 3, seconds_limit=WAIT)
            assert finished(runs, name).state == "done"
            clock.advance(31.0)
    finally:
        runs.shutdown(timeout=WAIT)
    assert runs.status("a") is None  # ended 62 s ago: forgotten
    status = runs.status("b")
    assert status is not None and status.state == "done"


def test_statuses_are_frozen_snapshots(store: CountingStore, runs: Runs) -> None:
    xor(store)
    first = runs.start("s", 20, seconds_limit=WAIT)
    final = finished(runs, "s")
    assert first.steps_done == 0 and first.state == "running" and first.loss is None
    assert final.steps_done == 20 and final.fraction == 1.0 and final.loss is not None


def test_the_number_of_runs_at_once_is_capped() -> None:
    store = MemoryStore(ttl=3600.0, max_sessions=100)
    runs = Runs(store, max_active=2)
    for name in ("a", "b", "c"):
        store.add(session.create(name))
    runs.start("a", 100_000, seconds_limit=30)
    runs.start("b", 100_000, seconds_limit=30)
    with pytest.raises(PhaseError, match="already running 2 trainings"):
        runs.start("c", 10, seconds_limit=30)
    runs.shutdown()
    assert runs.active_count() == 0


# --------------------------------------------------------------------------------------------
# Several processes: two registries on one store stand for two server processes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def other(store: CountingStore) -> Iterator[Runs]:
    """A second registry on the same store: another server process."""
    registry = Runs(store)
    yield registry
    registry.shutdown(timeout=WAIT)
    assert registry.active_count() == 0


def test_one_run_per_session_across_processes_progress_and_cancel(
    store: CountingStore, runs: Runs, other: Runs
) -> None:
    original = xor(store)
    runs.start("s", LONG, seconds_limit=WAIT)
    with pytest.raises(PhaseError, match="already going on for this session"):
        other.start("s", 10, seconds_limit=WAIT)
    assert other.active_count() == 0
    # The other process sees the run's progress as it is published (every sync_seconds).
    wait_until(lambda: (s := other.status("s")) is not None and s.steps_done > 0)
    seen = other.status("s")
    assert seen is not None and seen.active and seen.steps_total == LONG
    # ... and its cancel stops it.
    asked = other.cancel("s")
    assert asked is not None and asked.active
    status = other.wait("s", timeout=WAIT)
    assert status is not None and status.state == "cancelled"
    assert status == runs.status("s")
    stored = store.get("s")
    assert stored.step == status.steps_done
    assert_same_params(stored, session.train(original, status.steps_done))
    # Once it has ended, either process may start the next one.
    other.start("s", 5, seconds_limit=WAIT)
    assert finished(other, "s").state == "done"
    assert finished(runs, "s").state == "done"


def died(store: SessionStore, session_id: str, steps_done: int) -> None:
    """What a process killed while it ran a run leaves: a lease and a "running" status it published."""
    store.put_record("run-lease", session_id, b"dead", 10.0)
    status = RunStatus(session_id, "running", 50, 50, steps_done, 0.5, 1.0, None, "")
    store.put_record("run", session_id, json.dumps({**asdict(status), "token": "dead"}).encode(), 3600.0)


def test_a_run_whose_process_died_is_failed_once_its_lease_runs_out() -> None:
    clock = FakeClock()
    store = MemoryStore(ttl=3600.0, max_sessions=10, clock=clock)
    xor(store)
    died(store, "s", 7)
    runs = Runs(store)
    try:
        status = runs.status("s")
        assert status is not None and status.state == "running"  # the lease may still be renewed
        with pytest.raises(PhaseError, match="already going on"):
            runs.start("s", 5, seconds_limit=WAIT)
        clock.advance(10.0)  # no renewal for LEASE_SECONDS
        status = runs.status("s")
        assert status is not None and status.state == "failed" and status.steps_done == 7
        assert status.message == (
            "the server process running it stopped "
            "(after 7 of 50 steps; the session keeps every step it saved)"
        )
        assert status.finished is not None
        assert Runs(store).status("s") == status  # recorded: every process reads the same
        assert runs.cancel("s") == status
        runs.start("s", 5, seconds_limit=WAIT)  # the session is free again
        assert finished(runs, "s").state == "done"
    finally:
        runs.shutdown(timeout=WAIT)


def test_a_run_that_has_published_its_end_does_not_block_the_next() -> None:
    """Between publishing how it ended and letting go of its lease a run holds both: a new run takes
    the lease over rather than being refused."""
    store = MemoryStore(ttl=3600.0, max_sessions=10)
    xor(store)
    store.put_record("run-lease", "s", b"old", 10.0)
    ended = RunStatus("s", "done", 5, 5, 5, 0.5, 1.0, 2.0, "trained 5 epochs (5 steps)")
    store.put_record("run", "s", json.dumps({**asdict(ended), "token": "old"}).encode(), 3600.0)
    runs = Runs(store)
    try:
        assert runs.start("s", 5, seconds_limit=WAIT).active
        assert finished(runs, "s").state == "done"
        assert store.get_record("run-lease", "s") is None  # the new run let go of it
    finally:
        runs.shutdown(timeout=WAIT)


def test_a_run_that_loses_its_lease_stops() -> None:
    """A process that cannot renew its lease in time (the clock jumps past it) must not go on: by
    then another process may have started a run on the session."""
    clock = FakeClock()
    store = MemoryStore(ttl=1e9, max_sessions=10, clock=clock)
    xor(store)
    runs = Runs(store, sync_seconds=0.0)  # renews before every chunk
    try:
        runs.start("s", LONG, seconds_limit=WAIT)
        wait_until(lambda: (s := runs.status("s")) is not None and s.steps_done > 0)
        clock.advance(10.0)
        status = finished(runs, "s")
        assert status.state == "failed"
        assert "lost its lease" in status.message
        assert store.get("s").step == status.steps_done
    finally:
        runs.shutdown(timeout=WAIT)
