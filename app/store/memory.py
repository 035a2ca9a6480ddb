"""Sessions in memory, gone when the process ends: each session's state and its history log."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.envelope import Envelope, FloatArray, width_for
from app.errors import SessionNotFoundError
from app.history import Kept, Snapshot, apply, to_save
from app.session import Session
from app.store.base import KEEP_RECENT_SECONDS, Clock, SessionStore


class MemoryLog:
    """One session's history: the losses in a growing array, the kept states by step, the envelope.

    Thread-safe (a page may read the history while the session is being stepped); readers get copies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._losses = np.zeros(64)
        self._count = 0
        self._kept: dict[int, Snapshot] = {}
        self._envelope = Envelope(0, 1)

    # Reading (HistorySource)

    def read_losses(self, start: int, stop: int) -> FloatArray:
        with self._lock:
            return self._losses[max(0, start) : min(stop, self._count)].copy()

    def read_kept(self) -> list[Kept]:
        with self._lock:
            return [Kept(s.step, s.loss) for s in self._kept.values()]

    def read_snapshot(self, step: int) -> Snapshot | None:
        with self._lock:
            return self._kept.get(step)

    def read_envelope(self, first: int = 0) -> Envelope:
        with self._lock:
            env = self._envelope
            return Envelope(
                env.count,
                env.width,
                first,
                env.low[first:].copy(),
                env.high[first:].copy(),
                env.low_at[first:].copy(),
                env.high_at[first:].copy(),
            )

    # Writing (HistoryLog)

    def truncate_losses(self, count: int) -> None:
        with self._lock:
            self._count = min(self._count, count)

    def append_losses(self, values: FloatArray) -> None:
        with self._lock:
            needed = self._count + int(values.size)
            if needed > self._losses.size:
                grown = np.zeros(max(needed, 2 * self._losses.size))
                grown[: self._count] = self._losses[: self._count]
                self._losses = grown
            self._losses[self._count : needed] = values
            self._count = needed

    def write_envelope(self, env: Envelope) -> None:
        with self._lock:
            old, first = self._envelope, env.first
            self._envelope = Envelope(
                self._count,
                width_for(self._count),
                0,
                np.concatenate([old.low[:first], env.low]),
                np.concatenate([old.high[:first], env.high]),
                np.concatenate([old.low_at[:first], env.low_at]),
                np.concatenate([old.high_at[:first], env.high_at]),
            )

    def drop_kept(self, from_step: int | None, steps: frozenset[int]) -> None:
        with self._lock:
            self._kept = {
                step: snap
                for step, snap in self._kept.items()
                if (from_step is None or step < from_step) and step not in steps
            }

    def add_kept(self, snapshots: Sequence[Snapshot]) -> None:
        with self._lock:
            for snap in snapshots:
                self._kept[snap.step] = snap


@dataclass
class _Entry:
    session: Session
    log: MemoryLog
    used: float
    version: int = 0


def _save(session: Session, log: MemoryLog) -> Session:
    """Apply the session's history changes to ``log``; the session reading from it."""
    pending, before, after = to_save(session.history, log)
    if pending is not None:
        apply(pending, log, before)
    return replace(session, history=session.history.saved(log, after))


class MemoryStore(SessionStore):
    """Sessions in a dict, most recently used last; gone when the process ends."""

    def __init__(
        self,
        *,
        ttl: float,
        max_sessions: int,
        clock: Clock = time.time,
        keep_recent: float = KEEP_RECENT_SECONDS,
    ) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent)
        self._sessions: OrderedDict[str, _Entry] = OrderedDict()
        # Guards the dict itself; the per-session locks serialise the work on one session.
        self._table = threading.Lock()
        # Records: (kind, key) -> (value, expiry time); writes since the expired ones were last dropped.
        self._records: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._writes = 0
        self._records_lock = threading.Lock()

    def add(self, session: Session) -> Session:
        now = self.clock()
        log = MemoryLog()
        stored = _save(session, log)
        with self._table:
            for sid in [sid for sid, e in self._sessions.items() if now - e.used > self.ttl]:
                del self._sessions[sid]
            excess = len(self._sessions) - self.max_sessions + 1
            if excess > 0:
                # Least recently used first: the last of those that would go is the most recent.
                going = list(itertools.islice(self._sessions.values(), excess))
                if self.is_recent(going[-1].used, now):
                    raise self.full(going[-1].used, now)
                for _ in range(excess):
                    self._sessions.popitem(last=False)
            self._sessions[session.id] = _Entry(stored, log, now)
        return stored

    def _entry(self, session_id: str) -> _Entry:
        now = self.clock()
        with self._table:
            entry = self._sessions.get(session_id)
            if entry is None or now - entry.used > self.ttl:
                if entry is not None:
                    del self._sessions[session_id]
                raise SessionNotFoundError(session_id)
            entry.used = now
            self._sessions.move_to_end(session_id)
            return entry

    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            return self._entry(session_id).session

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        with self._locked(session_id):
            entry = self._entry(session_id)
            new = _save(change(entry.session), entry.log)
            with self._table:
                if self._sessions.get(session_id) is entry:
                    entry.version += 1
                    new = replace(new, stamp=entry.version)
                    entry.session = new
            return new

    def delete(self, session_id: str) -> None:
        with self._locked(session_id), self._table:
            if self._sessions.pop(session_id, None) is None:
                raise SessionNotFoundError(session_id)

    def count(self) -> int:
        with self._table:
            return len(self._sessions)

    def ping(self) -> None:
        """Always usable: the sessions are in this process."""

    def stamp(self, session_id: str) -> int:
        now = self.clock()
        with self._table:
            entry = self._sessions.get(session_id)
            if entry is None or now - entry.used > self.ttl:
                raise SessionNotFoundError(session_id)
            return entry.version

    # Records

    def _live(self, name: tuple[str, str], now: float) -> bytes | None:
        found = self._records.get(name)
        return found[0] if found is not None and found[1] > now else None

    def _set(self, name: tuple[str, str], value: bytes, ttl: float, now: float) -> None:
        """Store a record (called with the records' lock held). Once there have been as many writes
        as records (64 at least) the expired ones are dropped: a constant cost per write, and
        never more than about twice the live records (plus 64) held."""
        self._writes += 1
        if self._writes >= max(64, len(self._records)):
            self._writes = 0
            self._records = {n: found for n, found in self._records.items() if found[1] > now}
        self._records[name] = (value, now + ttl)

    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        now = self.clock()
        with self._records_lock:
            if only_if_absent and self._live((kind, key), now) is not None:
                return False
            self._set((kind, key), value, ttl, now)
            return True

    def _get_record(self, kind: str, key: str) -> bytes | None:
        with self._records_lock:
            return self._live((kind, key), self.clock())

    def _replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool:
        now = self.clock()
        with self._records_lock:
            if self._live((kind, key), now) != expected:
                return False
            self._set((kind, key), value, ttl, now)
            return True

    def _delete_record(self, kind: str, key: str, expected: bytes | None) -> bool:
        with self._records_lock:
            current = self._live((kind, key), self.clock())
            if current is None or (expected is not None and current != expected):
                return False
            del self._records[(kind, key)]
            return True

    def record_count(self) -> int:
        """Records held, expired ones not yet dropped included (for tests)."""
        with self._records_lock:
            return len(self._records)
