"""The interface every session store implements, and what they share: per-session locks and the
checks on small records."""

from __future__ import annotations

import math
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.errors import StoreFullError
from app.session import Session

Clock = Callable[[], float]

#: What a record's kind may look like: a short lower-case name (it is part of a key in some backends).
RECORD_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
#: Longest record key, in characters.
MAX_RECORD_KEY = 256
#: Largest record value, in bytes: records are small things, not documents.
MAX_RECORD_BYTES = 64 * 1024
#: A session used this recently is never evicted to make room for a new one: a stranger creating
#: sessions must not push out a student's who is working (the class's sessions stay while it meets).
KEEP_RECENT_SECONDS = 3600.0


class _SessionLock:
    """A session's lock and how many requests hold or wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


def check_record(kind: str, key: str, value: bytes | None = None, ttl: float | None = None) -> None:
    """ValueError unless these are a record's kind, key, value and time to live as backends take them."""
    if not RECORD_KIND.fullmatch(kind):
        raise ValueError(f"record kind {kind!r}: a lower-case name of 1-32 letters, digits and '-'")
    if not 1 <= len(key) <= MAX_RECORD_KEY:
        raise ValueError(f"record key: 1 to {MAX_RECORD_KEY} characters, got {len(key)}")
    if value is not None and len(value) > MAX_RECORD_BYTES:
        raise ValueError(f"record value: at most {MAX_RECORD_BYTES} bytes, got {len(value)}")
    if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
        raise ValueError(f"record ttl: a positive number of seconds, got {ttl}")


class SessionStore(ABC):
    """Sessions by id. A loaded session reads its history through the store on demand; saving a
    session writes its state (a few KB) and appends its history's changes, nothing more.

    Beside sessions a store keeps *records*: small values that are not sessions but must be shared
    by every server process using the store, each gone after its time to live (run leases and
    progress, idempotency keys, follow links). A record is named by a ``kind`` (a short lower-case
    name each feature owns, e.g. ``"run-lease"``) and a ``key`` within it; its value is bytes (at
    most :data:`MAX_RECORD_BYTES`). Every operation on one record is atomic across processes; an
    expired record is absent to every operation, and backends drop expired records without anyone
    asking (SQLite on its writes, Redis by its own expiry), so they never pile up.
    """

    def __init__(
        self,
        *,
        ttl: float,
        max_sessions: int,
        clock: Clock = time.time,
        keep_recent: float = KEEP_RECENT_SECONDS,
    ) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self.clock = clock
        self.keep_recent = keep_recent
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

    def full(self, oldest_used: float, now: float) -> StoreFullError:
        """The refusal of a new session when making room would evict one used at ``oldest_used``
        (the least recently used of those that would go), which is too recent to go."""
        wait = max(1, math.ceil(oldest_used + self.keep_recent - now))
        return StoreFullError(
            f"the server keeps at most {self.max_sessions} sessions and all of them are in use: "
            f"try again in {wait} s",
            wait,
        )

    def is_recent(self, used: float, now: float) -> bool:
        """Whether a session last used at ``used`` is too recently used to be evicted."""
        return now - used < self.keep_recent

    @abstractmethod
    def add(self, session: Session) -> Session:
        """Keep a new session (its history too), first expiring old ones and, when full, evicting
        the least recently used, unless that one was used within ``keep_recent`` seconds: then
        StoreFullError (whose ``retry_after`` says when one will have aged enough), and nothing is
        evicted. The session as stored."""

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

    # ----------------------------------------------------------------------------------------
    # Records
    # ----------------------------------------------------------------------------------------

    def put_record(
        self, kind: str, key: str, value: bytes, ttl: float, *, only_if_absent: bool = False
    ) -> bool:
        """Store ``value`` under (kind, key) for ``ttl`` seconds, replacing any value there; with
        ``only_if_absent``, only if there is none (an expired one counts as none). Whether it was
        stored. ValueError for a malformed kind, key, value or ttl (as for every record method)."""
        check_record(kind, key, value, ttl)
        return self._put_record(kind, key, value, ttl, only_if_absent)

    def get_record(self, kind: str, key: str) -> bytes | None:
        """The record's value, or None when there is none (or it has expired)."""
        check_record(kind, key)
        return self._get_record(kind, key)

    def replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool:
        """Compare and set: if the record holds ``expected``, store ``value`` for a fresh ``ttl``
        seconds. Whether it did (False when the record holds something else or nothing)."""
        check_record(kind, key, value, ttl)
        return self._replace_record(kind, key, expected, value, ttl)

    def delete_record(self, kind: str, key: str, *, expected: bytes | None = None) -> bool:
        """Remove the record (with ``expected``, only if it holds that); whether one was removed."""
        check_record(kind, key)
        return self._delete_record(kind, key, expected)

    @abstractmethod
    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool: ...

    @abstractmethod
    def _get_record(self, kind: str, key: str) -> bytes | None: ...

    @abstractmethod
    def _replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool: ...

    @abstractmethod
    def _delete_record(self, kind: str, key: str, expected: bytes | None) -> bool: ...
