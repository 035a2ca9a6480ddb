"""The interface every session store implements, and what they share: per-session locks."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.session import Session

Clock = Callable[[], float]


class _SessionLock:
    """A session's lock and how many requests hold or wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class SessionStore(ABC):
    """Sessions by id. A loaded session reads its history through the store on demand; saving a
    session writes its state (a few KB) and appends its history's changes, nothing more."""

    def __init__(self, *, ttl: float, max_sessions: int, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self.clock = clock
        self._guard = threading.Lock()
        # One lock per session while anyone holds or waits for it (then it is dropped, so the
        # table never outgrows the requests in flight, whatever ids are asked for).
        self._locks: dict[str, _SessionLock] = {}

    @contextmanager
    def _locked(self, session_id: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.get(session_id)
            if entry is None:
                entry = self._locks[session_id] = _SessionLock()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._locks[session_id]

    def lock_count(self) -> int:
        """Locks held or waited for now (0 when the store is idle)."""
        with self._guard:
            return len(self._locks)

    @abstractmethod
    def add(self, session: Session) -> Session:
        """Keep a new session (its history too), first expiring old ones and evicting the least
        recently used; the session as stored."""

    @abstractmethod
    def get(self, session_id: str) -> Session:
        """The session, marked as used now; SessionNotFoundError if there is none (or it expired)."""

    @abstractmethod
    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        """Replace the session by ``change(session)`` atomically; if ``change`` raises, nothing changes."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Remove the session and its history; SessionNotFoundError if there is none."""

    @abstractmethod
    def count(self) -> int:
        """How many sessions are kept (expired ones may still be counted until the next add)."""

    @abstractmethod
    def stamp(self, session_id: str) -> int:
        """A number that changes whenever the session does, read without loading it (a page's
        watch asks it every few seconds); SessionNotFoundError if there is none."""

    @abstractmethod
    def ping(self) -> None:
        """Return if the store can be used now; else raise the backend's error, which says why."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release resources (connections)."""
