"""Background training runs: long trainings that the page can watch, cancel and survive.

A run trains a stored session from a daemon thread (never on the event loop), in chunks of a few
steps, each computed in one of the server's training processes (app/train_pool.py; without a pool,
in the thread itself). Each chunk is one ``store.update`` — atomic, under the session's lock — so
other requests on the same session (a forward pass, a read of the state) slot in between chunks
instead of waiting for the whole run, and a run that stops for any reason leaves the session at the
end of its last whole chunk. The chunk size adapts so each chunk computes for about ``chunk_seconds``.

Runs are coordinated through the session store's records, so that every server process (workers of
one host on SQLite, hosts on Redis) sees the same runs:

- a *lease* (record kind ``run-lease``, keyed by session): the run's token, taken when it starts, so
  there is one run per session anywhere; renewed every ``sync_seconds`` while it works and gone
  ``lease_seconds`` after its process died. Cancel, from any process, marks it; the run sees the
  mark when it next renews it, and stops.
- a *status* (record kind ``run``): the latest :class:`RunStatus`, published with each renewal and
  when the run ends, kept ``status_seconds``. A status still "running" whose lease is gone belongs to
  a process that died: whoever reads it first records it as failed.

The process that works on a run reads its own status from memory (always current); others read the
published one (at most ``sync_seconds`` old). At most ``max_active`` runs work at once per process.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Literal, get_args

from app import session
from app.errors import BusyError, DivergenceError, InvalidInputError, PhaseError, SessionNotFoundError
from app.limits import MAX_LOSS_HISTORY, MAX_TRAIN_EPOCHS, MAX_TRAIN_STEPS
from app.session import Session, steps_per_epoch
from app.store import SessionStore
from app.train_pool import TrainingPool

RunState = Literal["running", "done", "cancelled", "timeout", "diverged", "failed"]
RUN_STATES: tuple[RunState, ...] = get_args(RunState)

#: Compute time aimed at per chunk: short enough that other requests wait little for the lock.
CHUNK_SECONDS = 0.02
#: The same when chunks are computed in a training process: long enough that shipping the session
#: there and back (a few milliseconds) costs little beside it.
POOL_CHUNK_SECONDS = 0.1
#: Pause between chunks, so a request waiting for the session's lock gets it.
PAUSE_SECONDS = 0.001
#: A chunk grows at most this many times over the previous one (the first chunk is one step).
MAX_GROWTH = 8
#: Most runs going on at once in one process (each holds a thread and a core's attention).
MAX_ACTIVE = 8
#: A run whose lease has not been renewed for this long is taken for dead (its process stopped).
LEASE_SECONDS = 10.0
#: How often a working run renews its lease, publishes its progress and looks for a cancel.
SYNC_SECONDS = 0.25
#: How long a run's latest status is kept (so the page can show how a run ended).
STATUS_SECONDS = 24 * 3600.0
#: How often :meth:`Runs.wait` asks the store about a run that another process works on.
POLL_SECONDS = 0.05
#: Longest :meth:`Runs.stop` waits for a cancelled run to end (one chunk, or a renewal elsewhere).
STOP_SECONDS = 10.0

#: The store records of the runs (see the module's docstring), keyed by session id.
LEASE_RECORD = "run-lease"
STATUS_RECORD = "run"
#: Appended to a lease's token to ask its run to stop.
CANCEL_MARK = b" cancel"

_log = logging.getLogger(__name__)

ALREADY_RUNNING = "a training run is already going on for this session: wait for it to end or cancel it"


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


def _encode(status: RunStatus, token: bytes) -> bytes:
    return json.dumps({**asdict(status), "token": token.decode()}, separators=(",", ":")).encode()


def _decode(raw: bytes) -> tuple[RunStatus, bytes]:
    fields = json.loads(raw)
    token = str(fields.pop("token")).encode()
    state = fields["state"]
    if state not in RUN_STATES:
        raise ValueError(f"not a run state: {state!r}")
    return RunStatus(**fields), token


class _Run:
    """A run this process works on; its status is replaced (never changed) under the registry's lock."""

    def __init__(self, status: RunStatus, deadline: float, token: bytes) -> None:
        self.status = status
        self.deadline = deadline
        self.token = token
        self.cancel = threading.Event()
        self.thread: threading.Thread | None = None


class Runs:
    """The training runs of one store, as one server process sees and works on them."""

    def __init__(
        self,
        store: SessionStore,
        *,
        pool: TrainingPool | None = None,
        chunk_seconds: float | None = None,
        pause_seconds: float = PAUSE_SECONDS,
        max_active: int = MAX_ACTIVE,
        lease_seconds: float = LEASE_SECONDS,
        sync_seconds: float = SYNC_SECONDS,
        status_seconds: float = STATUS_SECONDS,
    ) -> None:
        self.store = store
        self.pool = pool
        if chunk_seconds is None:
            chunk_seconds = CHUNK_SECONDS if pool is None else POOL_CHUNK_SECONDS
        self.chunk_seconds = chunk_seconds
        self.pause_seconds = pause_seconds
        self.max_active = max_active
        self.lease_seconds = lease_seconds
        self.sync_seconds = sync_seconds
        self.status_seconds = status_seconds
        self._lock = threading.Lock()
        # The runs this process works on (their threads are running or just ending).
        self._active: dict[str, _Run] = {}
        #: Told how many runs this process works on whenever one starts or ends (the metrics' gauge).
        self.on_active_count: Callable[[int], None] = lambda count: None

    # ----------------------------------------------------------------------------------------
    # The interface
    # ----------------------------------------------------------------------------------------

    def start(self, session_id: str, epochs: int, *, seconds_limit: float) -> RunStatus:
        """Start training ``epochs`` epochs in the background; the status right after starting.

        InvalidInputError for epochs outside 1..MAX_TRAIN_EPOCHS or more than MAX_TRAIN_STEPS steps (as
        :func:`app.session.train`); PhaseError if a run is already active for the session (in any
        process), this process already works on ``max_active`` runs, or the session would pass
        MAX_LOSS_HISTORY updates; SessionNotFoundError if there is no such session.
        """
        if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
            raise InvalidInputError(f"epochs: must lie in 1..{MAX_TRAIN_EPOCHS}, got {epochs}")
        if not (math.isfinite(seconds_limit) and seconds_limit > 0):
            raise InvalidInputError(
                f"seconds_limit: must be a positive number of seconds, got {seconds_limit}"
            )
        current = self.store.get(session_id)
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
        run = _Run(status, time.monotonic() + seconds_limit, secrets.token_hex(16).encode())
        with self._lock:
            if session_id in self._active:
                raise PhaseError(ALREADY_RUNNING)
            if len(self._active) >= self.max_active:
                raise PhaseError(
                    f"the server is already running {self.max_active} trainings: try again in a moment"
                )
            self._active[session_id] = run  # held for this session while the lease is asked for
        leased = False
        try:
            self._take_lease(run)
            leased = True
            self._publish(run.token, status)
            run.thread = threading.Thread(
                target=self._work, args=(run,), name=f"train-{session_id[:12]}", daemon=True
            )
            run.thread.start()
        except BaseException:
            # No lease, or no thread to be had: forget the run rather than block the session.
            with self._lock:
                del self._active[session_id]
            if leased:
                self._finish(run, "failed", "the run could not start: try again")
            raise
        with self._lock:
            self.on_active_count(len(self._active))
        return status

    def status(self, session_id: str) -> RunStatus | None:
        """The active run's status, else how the latest run ended, else None (whichever process
        works on it). A run whose process died is reported, and recorded, as failed."""
        with self._lock:
            run = self._active.get(session_id)
            if run is not None:
                return run.status
        raw = self.store.get_record(STATUS_RECORD, session_id)
        if raw is None:
            return None
        status, token = _decode(raw)
        if not status.active:
            return status
        lease = self.store.get_record(LEASE_RECORD, session_id)
        if lease is not None and lease.split(b" ")[0] == token:
            return status
        # No lease for this run. Either it has just ended (it publishes its end before it lets go
        # of the lease, so its status has changed since), or its process died.
        again = self.store.get_record(STATUS_RECORD, session_id)
        if again != raw:
            return None if again is None else _decode(again)[0]
        failed = replace(
            status,
            state="failed",
            finished=time.time(),
            message=(
                f"the server process running it stopped (after {status.steps_done} of "
                f"{status.steps_total} steps; the session keeps every step it saved)"
            ),
        )
        if self.store.replace_record(
            STATUS_RECORD, session_id, raw, _encode(failed, token), self.status_seconds
        ):
            return failed
        latest = self.store.get_record(STATUS_RECORD, session_id)  # another reader got there first
        return None if latest is None else _decode(latest)[0]

    def cancel(self, session_id: str) -> RunStatus | None:
        """Ask the active run to stop after its current chunk, whichever process works on it; its
        status (None if no run is known).

        The returned status is still "running" when a run was active: it becomes "cancelled" once
        the chunk in progress has been saved (see :meth:`wait`).
        """
        with self._lock:
            run = self._active.get(session_id)
            if run is not None:
                run.cancel.set()
        lease = self.store.get_record(LEASE_RECORD, session_id)
        if lease is not None and not lease.endswith(CANCEL_MARK):
            # If the run renews its lease meanwhile the mark is refused: ask again.
            while not self.store.replace_record(
                LEASE_RECORD, session_id, lease, lease + CANCEL_MARK, self.lease_seconds
            ):
                lease = self.store.get_record(LEASE_RECORD, session_id)
                if lease is None or lease.endswith(CANCEL_MARK):
                    break
        return self.status(session_id)

    def stop(self, session_id: str, timeout: float = STOP_SECONDS) -> None:
        """Cancel the session's active run, whichever process works on it, and wait until it has
        saved its last chunk (so a change made next is not overwritten by it): before a reset or
        a delete."""
        status = self.cancel(session_id)
        if status is not None and status.active:
            self.wait(session_id, timeout)

    def forget(self, session_id: str) -> RunStatus | None:
        """Remove how the session's latest run ended, so that no run is known until the next one
        (an active run is never forgotten); the status removed, or None."""
        raw = self.store.get_record(STATUS_RECORD, session_id)
        if raw is None:
            return None
        status, _ = _decode(raw)
        # Only the record read: a run that started meanwhile keeps its own.
        if status.active or not self.store.delete_record(STATUS_RECORD, session_id, expected=raw):
            return None
        return status

    def wait(self, session_id: str, timeout: float | None = None) -> RunStatus | None:
        """Block until the session's active run (if any, in any process) has ended, or ``timeout``
        seconds passed; its status then."""
        with self._lock:
            run = self._active.get(session_id)
        if run is not None and run.thread is not None:
            run.thread.join(timeout)
            return self.status(session_id)
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status(session_id)
            if status is None or not status.active or (end is not None and time.monotonic() >= end):
                return status
            time.sleep(POLL_SECONDS)  # another process works on it: nothing here to wait on

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every run this process works on and wait for their threads (at app shutdown)."""
        with self._lock:
            runs = list(self._active.values())
        for run in runs:
            run.cancel.set()
        end = time.monotonic() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, end - time.monotonic()))

    def active_count(self) -> int:
        """Runs this process works on now."""
        with self._lock:
            return len(self._active)

    # ----------------------------------------------------------------------------------------
    # Records
    # ----------------------------------------------------------------------------------------

    def _take_lease(self, run: _Run) -> None:
        session_id = run.status.session_id
        if self.store.put_record(
            LEASE_RECORD, session_id, run.token, self.lease_seconds, only_if_absent=True
        ):
            return
        # A run that has published its end may not have let go of its lease yet: take it over.
        held = self.store.get_record(LEASE_RECORD, session_id)
        raw = self.store.get_record(STATUS_RECORD, session_id)
        if held is not None and raw is not None:
            previous, token = _decode(raw)
            ended = not previous.active and held.split(b" ")[0] == token
            if ended and self.store.replace_record(
                LEASE_RECORD, session_id, held, run.token, self.lease_seconds
            ):
                return
        raise PhaseError(ALREADY_RUNNING)

    def _publish(self, token: bytes, status: RunStatus) -> None:
        self.store.put_record(STATUS_RECORD, status.session_id, _encode(status, token), self.status_seconds)

    def _renew(self, run: _Run) -> RunState | None:
        """Renew the lease and publish the progress; how the run must stop, if it must."""
        session_id = run.status.session_id
        if not self.store.replace_record(LEASE_RECORD, session_id, run.token, run.token, self.lease_seconds):
            held = self.store.get_record(LEASE_RECORD, session_id)
            return "cancelled" if held == run.token + CANCEL_MARK else "failed"
        with self._lock:
            status = run.status
        self._publish(run.token, status)
        return None

    def _release(self, run: _Run) -> None:
        session_id = run.status.session_id
        for held in (run.token, run.token + CANCEL_MARK):
            if self.store.delete_record(LEASE_RECORD, session_id, expected=held):
                return

    # ----------------------------------------------------------------------------------------
    # The worker
    # ----------------------------------------------------------------------------------------

    def _progress(self, run: _Run, steps: int, loss: float) -> None:
        with self._lock:
            run.status = replace(run.status, steps_done=run.status.steps_done + steps, loss=loss)

    def _finish(self, run: _Run, state: RunState, message: str) -> None:
        final = replace(run.status, state=state, finished=time.time(), message=message)
        try:
            # Published before the lease goes: a status still "running" without a lease means a
            # dead process to every reader.
            self._publish(run.token, final)
            self._release(run)
        finally:
            with self._lock:
                run.status = final
                session_id = final.session_id
                if self._active.get(session_id) is run:
                    del self._active[session_id]
                self.on_active_count(len(self._active))

    def _work(self, run: _Run) -> None:
        state: RunState = "failed"
        message = "the run stopped unexpectedly"
        try:
            state, message = self._train(run)
        except Exception as exc:  # a run must always end with a status, never a dead thread
            state, message = "failed", f"training failed: {exc}"
        finally:
            try:
                self._finish(run, state, message)
            except Exception:
                # The store cannot be reached: the lease runs out and readers report the run failed.
                _log.exception("could not record the end of a training run")

    def _train(self, run: _Run) -> tuple[RunState, str]:
        session_id, total = run.status.session_id, run.status.steps_total
        done, chunk = 0, 1
        next_sync = time.monotonic() + self.sync_seconds
        while done < total:
            if time.monotonic() >= next_sync:
                stop = self._renew(run)
                if stop == "cancelled":
                    run.cancel.set()
                elif stop == "failed":
                    return "failed", (
                        f"the run lost its lease after {done} of {total} steps "
                        "(the server was too busy to renew it): start it again"
                    )
                next_sync = time.monotonic() + self.sync_seconds
            if run.cancel.is_set():
                return "cancelled", f"cancelled after {done} of {total} steps"
            if time.monotonic() >= run.deadline:
                return "timeout", f"stopped at the time limit after {done} of {total} steps"
            count = min(chunk, total - done)
            timing: list[float] = []
            try:
                new = self.store.update(
                    session_id, functools.partial(self._timed_steps, count=count, timing=timing)
                )
            except DivergenceError as exc:
                return "diverged", f"{exc} (stopped after {done} of {total} steps; the session keeps them)"
            except SessionNotFoundError:
                return "failed", f"the session no longer exists (after {done} of {total} steps)"
            except (InvalidInputError, PhaseError, BusyError) as exc:
                return "failed", f"training stopped after {done} of {total} steps: {exc}"
            done += count
            self._progress(run, count, new.recent_losses[-1])
            # Aim the next chunk at chunk_seconds of compute, growing at most MAX_GROWTH times.
            per_step = max(timing[-1], 1e-9) / count
            chunk = max(1, min(int(self.chunk_seconds / per_step), count * MAX_GROWTH))
            if done < total and self.pause_seconds > 0:
                time.sleep(self.pause_seconds)
        return "done", f"trained {run.status.epochs} epochs ({total} steps)"

    def _timed_steps(self, current: Session, *, count: int, timing: list[float]) -> Session:
        """``count`` steps, recording how long they took (without the store's own load and save,
        nor the trip to a training process)."""
        if self.pool is not None:
            result, seconds = self.pool.run_steps(current, count)
            timing.append(seconds)
            return result
        began = time.perf_counter()
        result = session.run_steps(current, count)
        timing.append(time.perf_counter() - began)
        return result
