"""Training in worker processes, so that long trainings never stall the server.

Training is pure Python over small matrices: it holds the GIL the whole time, so in a thread of the
server process it would slow every other request down (45 concurrent trains once kept ``/healthz``
waiting 30 s). Here it is computed in a small pool of processes, started on first use as fresh
interpreters (never forked from the threaded server itself), at a lower scheduling priority than
the server, so that on a busy machine the server's requests go first.

A request that trains synchronously (``POST .../train``) holds one of :attr:`TrainingPool.slots`
*slots* while it waits, and is refused (:class:`TrainingBusyError`, 503 with ``Retry-After``) when
every slot is taken. The pool has one process more than there are slots, so the short chunks of the
background runs (app/training.py, which take no slot) always find a process, however many
synchronous trains are going on.

What crosses to a worker is what training reads, nothing more: the session's stored state (a few KB,
app/stored_state.py) and the steps of its kept states (thinning counts them). What comes back is the
trained state and the changes to the history (the new losses and kept states, what was dropped).
:meth:`TrainingPool.train` returns them as the next value of the session it was given, so a caller
applies it through the store's ``update`` like any other change: the store's per-session lock and
row version decide whether it lands, so nothing is lost or applied twice.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace

from app import session, stored_state
from app.envelope import Envelope, FloatArray
from app.errors import TrainingBusyError
from app.history import History, Kept, Snapshot
from app.session import Session

#: How much lower the training processes' scheduling priority is than the server's (``nice``).
WORKER_NICENESS = 10
#: What a refused train is told to wait before trying again, in seconds (a 100,000-epoch train of
#: the article's network takes about 2 s).
RETRY_AFTER_SECONDS = 5
#: How often a worker checks that the server that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0
#: How processes are started: fresh interpreters, children of the server (forking the server would
#: copy its threads' locks mid-use; a fork server's children outlive a killed server, as each holds
#: the pipe the fork server watches to learn that the server is gone).
START_METHOD = "spawn"

BUSY = "every training process of this server is busy: try again in a few seconds"


# --------------------------------------------------------------------------------------------
# What crosses between the processes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """A training to compute: ``epochs`` epochs (as ``session.train``) or ``steps`` steps."""

    session_id: str
    #: The session's stored state (JSON), its history summary that of the stored log.
    state: str
    #: The stored log's kept states (without parameters): the only history training reads.
    kept: tuple[Kept, ...]
    epochs: int | None
    steps: int | None


#: A kept state as it crosses, as a store's row: step, loss, sample index, packed parameters,
#: packed previous ones (see ``stored_state.snapshot_from_row``).
_SnapshotRow = tuple[int, float | None, int, bytes, bytes | None]


@dataclass(frozen=True)
class _Outcome:
    """A computed training: the new state and the history's changes (:class:`History`'s fields)."""

    state: str
    keep_losses: int | None
    new_losses: FloatArray
    keep_kept_below: int | None
    thinned: frozenset[int]
    new_kept: tuple[_SnapshotRow, ...]
    #: Time the training itself took, in seconds.
    seconds: float


class _KeptOnly:
    """The stored history as a worker sees it: the kept steps, and nothing training does not read."""

    def __init__(self, kept: tuple[Kept, ...]) -> None:
        self._kept = kept

    def read_kept(self) -> list[Kept]:
        return list(self._kept)

    def read_losses(self, start: int, stop: int) -> FloatArray:
        raise RuntimeError("a training process reads no stored losses")

    def read_snapshot(self, step: int) -> Snapshot | None:
        raise RuntimeError("a training process reads no stored kept state")

    def read_envelope(self, first: int = 0) -> Envelope:
        raise RuntimeError("a training process reads no stored envelope")


def _row(snap: Snapshot) -> _SnapshotRow:
    previous = None if snap.previous is None else stored_state.pack_params(snap.previous)
    return (snap.step, snap.loss, snap.sample_index, stored_state.pack_params(snap.params), previous)


def _compute(job: _Job) -> _Outcome:
    """In a worker: train the shipped session, and ship the result back."""
    current = stored_state.state_from_json(json.loads(job.state), job.session_id, _KeptOnly(job.kept))
    began = time.perf_counter()
    if job.epochs is not None:
        trained = session.train(current, job.epochs)
    else:
        trained = session.run_steps(current, job.steps or 0)
    seconds = time.perf_counter() - began
    history = trained.history
    state = stored_state.state_to_json(trained, history.stored)
    return _Outcome(
        state=json.dumps(state, separators=(",", ":")),
        keep_losses=history.keep_losses,
        new_losses=history.new_losses,
        keep_kept_below=history.keep_kept_below,
        thinned=history.thinned,
        new_kept=tuple(_row(snap) for snap in history.new_kept),
        seconds=seconds,
    )


def _ship(current: Session, epochs: int | None, steps: int | None) -> _Job:
    history = current.history
    if history.pending is not None:
        raise ValueError("only a stored session (one with no unsaved history) can be trained in a process")
    state = stored_state.state_to_json(current, history.stored)
    return _Job(
        current.id,
        json.dumps(state, separators=(",", ":")),
        tuple(history.source.read_kept()),
        epochs,
        steps,
    )


def _received(current: Session, outcome: _Outcome) -> Session:
    """The trained session, reading its stored history through ``current``'s source."""
    source = current.history.source
    trained = stored_state.state_from_json(json.loads(outcome.state), current.id, source)
    arch = current.arch
    history = History(
        source,
        current.history.stored,
        keep_losses=outcome.keep_losses,
        new_losses=outcome.new_losses,
        keep_kept_below=outcome.keep_kept_below,
        thinned=outcome.thinned,
        new_kept=tuple(stored_state.snapshot_from_row(arch, *row) for row in outcome.new_kept),
    )
    return replace(trained, history=history)


# --------------------------------------------------------------------------------------------
# The worker processes
# --------------------------------------------------------------------------------------------


def _start_worker() -> None:
    """Each worker: a lower priority, and an end when the server that started it goes (a killed
    server leaves no training process behind)."""
    os.nice(WORKER_NICENESS)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="orphan-check", daemon=True).start()


class TrainingPool:
    """``slots`` synchronous trainings at once, computed in ``slots`` + 1 worker processes."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a training pool needs at least one slot, got {slots}")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block; TrainingBusyError at once when every slot is taken."""
        if not self._free.acquire(blocking=False):
            raise TrainingBusyError(BUSY, RETRY_AFTER_SECONDS)
        try:
            yield
        finally:
            self._free.release()

    def train(self, current: Session, epochs: int) -> Session:
        """``session.train(current, epochs)``, computed in a worker process (this thread waits).

        ``current`` must be a stored session (as a store's ``update`` hands its change); the
        session's own errors (InvalidInputError, PhaseError, DivergenceError) come back as raised.
        TrainingBusyError when the worker stopped (killed, out of memory) before it answered."""
        trained, _ = self._run(current, epochs, None)
        return trained

    def run_steps(self, current: Session, steps: int) -> tuple[Session, float]:
        """``session.run_steps(current, steps)`` in a worker process, and how long the steps took
        there in seconds (the transfer not counted)."""
        return self._run(current, None, steps)

    def _run(self, current: Session, epochs: int | None, steps: int | None) -> tuple[Session, float]:
        executor = self._current()
        try:
            outcome = executor.submit(_compute, _ship(current, epochs, steps)).result()
        except BrokenProcessPool:
            self._discard(executor)
            raise TrainingBusyError(
                "the training process stopped before it finished (the session is unchanged): try again",
                RETRY_AFTER_SECONDS,
            ) from None
        return _received(current, outcome), outcome.seconds

    def _current(self) -> ProcessPoolExecutor:
        """The executor, started on first use (and again after :meth:`shutdown` or a breakdown)."""
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.slots + 1,
                    mp_context=multiprocessing.get_context(START_METHOD),
                    initializer=_start_worker,
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        """Drop an executor whose worker died (it takes no more work), so the next training
        starts a fresh one."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """The worker processes running now (for tests)."""
        with self._lock:
            executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def shutdown(self) -> None:
        """Stop the workers, waiting for trainings still running (at app shutdown; a later
        training would start new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
