"""Background training runs: long trainings that the page can watch, cancel and survive.

A run trains a stored session in a daemon thread (never on the event loop), in chunks of a few
steps. Each chunk is one ``store.update`` — atomic, under the session's lock — so other requests on
the same session (a forward pass, a read of the state) slot in between chunks instead of waiting for
the whole run, and a run that stops for any reason leaves the session at the end of its last whole
chunk. The chunk size adapts so each chunk computes for about ``chunk_seconds``.

One run per session at a time; :class:`Runs` keeps the latest status of recent runs (finished ones
too, a bounded number) so the page can show how a run ended.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, get_args

from app import session
from app.errors import DivergenceError, InvalidInputError, PhaseError, SessionNotFoundError
from app.limits import MAX_LOSS_HISTORY, MAX_TRAIN_EPOCHS, MAX_TRAIN_STEPS
from app.session import Session, steps_per_epoch
from app.store import SessionStore

RunState = Literal["running", "done", "cancelled", "timeout", "diverged", "failed"]
RUN_STATES: tuple[RunState, ...] = get_args(RunState)

#: Compute time aimed at per chunk: short enough that other requests wait little for the lock.
CHUNK_SECONDS = 0.02
#: Pause between chunks, so a request waiting for the session's lock gets it.
PAUSE_SECONDS = 0.001
#: A chunk grows at most this many times over the previous one (the first chunk is one step).
MAX_GROWTH = 8
#: Most finished statuses kept (oldest dropped first).
MAX_FINISHED = 1000
#: Most runs going on at once across all sessions (each holds a thread and a core's attention).
MAX_ACTIVE = 8


@dataclass(frozen=True)
class RunStatus:
    """Where a training run stands, or how it ended."""

    #: The session it trains.
    session_id: str
    #: "running", or how it ended: "done", "cancelled", "timeout", "diverged" or "failed".
    state: RunState
    #: Epochs asked for.
    epochs: int
    #: Full steps those epochs take (epochs × samples in SGD mode, epochs in batch mode).
    steps_total: int
    #: Steps applied to the session so far (whole chunks only).
    steps_done: int
    #: Loss of the forward pass behind the latest update of the run (None before the first chunk).
    loss: float | None
    #: Wall-clock time (seconds since the epoch) the run started and ended (None while running).
    started: float
    finished: float | None
    #: Why it stopped, in words ("" while running).
    message: str

    @property
    def active(self) -> bool:
        return self.state == "running"

    @property
    def fraction(self) -> float:
        """Share of the steps done, 0..1, for a progress bar."""
        return self.steps_done / self.steps_total if self.steps_total else 1.0


class _Run:
    """A run's mutable parts; its status is replaced (never changed) under the registry's lock."""

    def __init__(self, status: RunStatus, deadline: float) -> None:
        self.status = status
        self.deadline = deadline
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None


class Runs:
    """The training runs of one app: at most one active run per session."""

    def __init__(
        self,
        *,
        chunk_seconds: float = CHUNK_SECONDS,
        pause_seconds: float = PAUSE_SECONDS,
        max_finished: int = MAX_FINISHED,
        max_active: int = MAX_ACTIVE,
    ) -> None:
        self.chunk_seconds = chunk_seconds
        self.pause_seconds = pause_seconds
        self.max_finished = max_finished
        self.max_active = max_active
        self._lock = threading.Lock()
        self._active: dict[str, _Run] = {}
        self._finished: OrderedDict[str, RunStatus] = OrderedDict()
        #: Told how many runs are active whenever a run starts or ends (the metrics' gauge).
        self.on_active_count: Callable[[int], None] = lambda count: None

    # ----------------------------------------------------------------------------------------
    # The interface
    # ----------------------------------------------------------------------------------------

    def start(self, store: SessionStore, session_id: str, epochs: int, *, seconds_limit: float) -> RunStatus:
        """Start training ``epochs`` epochs in the background; the status right after starting.

        InvalidInputError for epochs outside 1..MAX_TRAIN_EPOCHS or more than MAX_TRAIN_STEPS steps (as
        :func:`app.session.train`); PhaseError if a run is already active for the session or it would
        pass MAX_LOSS_HISTORY updates; SessionNotFoundError if there is no such session.
        """
        if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
            raise InvalidInputError(f"epochs: must lie in 1..{MAX_TRAIN_EPOCHS}, got {epochs}")
        if not (math.isfinite(seconds_limit) and seconds_limit > 0):
            raise InvalidInputError(
                f"seconds_limit: must be a positive number of seconds, got {seconds_limit}"
            )
        current = store.get(session_id)
        per_epoch = steps_per_epoch(current)
        total = epochs * per_epoch
        if total > MAX_TRAIN_STEPS:
            raise InvalidInputError(
                f"epochs: {epochs} epochs of {per_epoch} samples are {total} steps; "
                f"one run takes at most {MAX_TRAIN_STEPS} (use batch mode or fewer epochs)"
            )
        if current.step + total > MAX_LOSS_HISTORY:
            raise PhaseError(f"this session would pass {MAX_LOSS_HISTORY} updates: reset it to go on")
        status = RunStatus(session_id, "running", epochs, total, 0, None, time.time(), None, "")
        run = _Run(status, time.monotonic() + seconds_limit)
        with self._lock:
            if session_id not in self._active and len(self._active) >= self.max_active:
                raise PhaseError(
                    f"the server is already running {self.max_active} trainings: try again in a moment"
                )
            if session_id in self._active:
                raise PhaseError(
                    "a training run is already going on for this session: wait for it to end or cancel it"
                )
            self._active[session_id] = run
            self._finished.pop(session_id, None)
            self.on_active_count(len(self._active))
        run.thread = threading.Thread(
            target=self._work, args=(store, run), name=f"train-{session_id[:12]}", daemon=True
        )
        try:
            run.thread.start()
        except RuntimeError:  # no thread to be had: forget the run rather than block the session
            with self._lock:
                del self._active[session_id]
                self.on_active_count(len(self._active))
            raise
        return status

    def status(self, session_id: str) -> RunStatus | None:
        """The active run's status, else how the latest run ended, else None."""
        with self._lock:
            run = self._active.get(session_id)
            return run.status if run is not None else self._finished.get(session_id)

    def cancel(self, session_id: str) -> RunStatus | None:
        """Ask the active run to stop after its current chunk; its status (None if no run is known).

        The returned status is still "running" when a run was active: it becomes "cancelled" once
        the chunk in progress has been saved (see :meth:`wait`).
        """
        with self._lock:
            run = self._active.get(session_id)
            if run is None:
                return self._finished.get(session_id)
            run.cancel.set()
            return run.status

    def wait(self, session_id: str, timeout: float | None = None) -> RunStatus | None:
        """Block until the session's active run (if any) has ended, or ``timeout`` seconds passed."""
        with self._lock:
            run = self._active.get(session_id)
        if run is not None and run.thread is not None:
            run.thread.join(timeout)
        return self.status(session_id)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every active run and wait for their threads (at app shutdown)."""
        with self._lock:
            runs = list(self._active.values())
        for run in runs:
            run.cancel.set()
        end = time.monotonic() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, end - time.monotonic()))

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    # ----------------------------------------------------------------------------------------
    # The worker
    # ----------------------------------------------------------------------------------------

    def _progress(self, run: _Run, steps: int, loss: float) -> None:
        with self._lock:
            run.status = replace(run.status, steps_done=run.status.steps_done + steps, loss=loss)

    def _finish(self, run: _Run, state: RunState, message: str) -> None:
        with self._lock:
            run.status = replace(run.status, state=state, finished=time.time(), message=message)
            session_id = run.status.session_id
            if self._active.get(session_id) is run:
                del self._active[session_id]
                self.on_active_count(len(self._active))
            self._finished[session_id] = run.status
            self._finished.move_to_end(session_id)
            while len(self._finished) > self.max_finished:
                self._finished.popitem(last=False)

    def _work(self, store: SessionStore, run: _Run) -> None:
        state: RunState = "failed"
        message = "the run stopped unexpectedly"
        try:
            state, message = self._train(store, run)
        except Exception as exc:  # a run must always end with a status, never a dead thread
            state, message = "failed", f"training failed: {exc}"
        finally:
            self._finish(run, state, message)

    def _train(self, store: SessionStore, run: _Run) -> tuple[RunState, str]:
        session_id, total = run.status.session_id, run.status.steps_total
        done, chunk = 0, 1
        while done < total:
            if run.cancel.is_set():
                return "cancelled", f"cancelled after {done} of {total} steps"
            if time.monotonic() >= run.deadline:
                return "timeout", f"stopped at the time limit after {done} of {total} steps"
            count = min(chunk, total - done)
            timing: list[float] = []
            try:
                new = store.update(session_id, functools.partial(_timed_steps, count=count, timing=timing))
            except DivergenceError as exc:
                return "diverged", f"{exc} (stopped after {done} of {total} steps; the session keeps them)"
            except SessionNotFoundError:
                return "failed", f"the session no longer exists (after {done} of {total} steps)"
            except (InvalidInputError, PhaseError) as exc:
                return "failed", f"training stopped after {done} of {total} steps: {exc}"
            done += count
            self._progress(run, count, new.recent_losses[-1])
            # Aim the next chunk at chunk_seconds of compute, growing at most MAX_GROWTH times.
            per_step = max(timing[-1], 1e-9) / count
            chunk = max(1, min(int(self.chunk_seconds / per_step), count * MAX_GROWTH))
            if done < total and self.pause_seconds > 0:
                time.sleep(self.pause_seconds)
        return "done", f"trained {run.status.epochs} epochs ({total} steps)"


def _timed_steps(current: Session, *, count: int, timing: list[float]) -> Session:
    """``count`` steps, recording how long they took (without the store's own load and save)."""
    began = time.perf_counter()
    result = session.run_steps(current, count)
    timing.append(time.perf_counter() - began)
    return result
