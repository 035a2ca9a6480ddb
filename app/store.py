"""Where sessions live: one interface, an in-memory and an embedded SQLite backend.

Every backend serialises work on one session (``update`` runs load → change → save under that
session's lock, so concurrent steps never lose an update), expires sessions left unused for longer
than ``ttl`` seconds and, when full, evicts the least recently used. Another backend (Redis, say)
implements the same five methods; routes and engine never see which one is in use.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app import codec
from app.errors import SessionNotFoundError, StoreBusyError
from app.session import Session
from app.settings import Settings

Clock = Callable[[], float]


#: How often an update is recomputed when another process changed the session meanwhile.
CONFLICT_RETRIES = 5


class _SessionLock:
    """A session's lock and how many requests hold or wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class SessionStore(ABC):
    """The interface every backend implements."""

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
    def add(self, session: Session) -> None:
        """Keep a new session, first expiring old ones and evicting the least recently used."""

    @abstractmethod
    def get(self, session_id: str) -> Session:
        """The session, marked as used now; SessionNotFoundError if there is none (or it expired)."""

    @abstractmethod
    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        """Replace the session by ``change(session)`` atomically; if ``change`` raises, nothing changes."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Remove the session; SessionNotFoundError if there is none."""

    @abstractmethod
    def count(self) -> int:
        """How many sessions are kept (expired ones may still be counted until the next add)."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release resources (connections)."""


class MemoryStore(SessionStore):
    """Sessions in a dict, most recently used last; gone when the process ends."""

    def __init__(self, *, ttl: float, max_sessions: int, clock: Clock = time.time) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock)
        self._sessions: OrderedDict[str, tuple[Session, float]] = OrderedDict()
        # Guards the dict itself; the per-session locks serialise the work on one session.
        self._table = threading.Lock()

    def add(self, session: Session) -> None:
        now = self.clock()
        with self._table:
            for sid in [sid for sid, (_, used) in self._sessions.items() if now - used > self.ttl]:
                del self._sessions[sid]
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[session.id] = (session, now)

    def _load(self, session_id: str) -> Session:
        now = self.clock()
        with self._table:
            entry = self._sessions.get(session_id)
            if entry is None or now - entry[1] > self.ttl:
                if entry is not None:
                    del self._sessions[session_id]
                raise SessionNotFoundError(session_id)
            self._sessions[session_id] = (entry[0], now)
            self._sessions.move_to_end(session_id)
            return entry[0]

    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            return self._load(session_id)

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        with self._locked(session_id):
            new = change(self._load(session_id))
            with self._table:
                if session_id in self._sessions:
                    self._sessions[session_id] = (new, self.clock())
            return new

    def delete(self, session_id: str) -> None:
        with self._locked(session_id), self._table:
            if self._sessions.pop(session_id, None) is None:
                raise SessionNotFoundError(session_id)

    def count(self) -> int:
        with self._table:
            return len(self._sessions)


class SqliteStore(SessionStore):
    """Sessions in an SQLite file (WAL mode): they survive a restart of the server.

    Connections come from a pool (one per request at a time, returned after use, so threads that
    come and go, like training runs, leave none behind); writes run in ``BEGIN IMMEDIATE``
    transactions, so even several server processes on one file serialise their updates.
    """

    def __init__(self, path: Path, *, ttl: float, max_sessions: int, clock: Clock = time.time) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock)
        self.path = path
        self._idle: list[sqlite3.Connection] = []
        self._connections: list[sqlite3.Connection] = []

    def _open(self) -> sqlite3.Connection:
        # Opened on first use, so importing the app touches no file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS sessions ("
            " id TEXT PRIMARY KEY, document TEXT NOT NULL, last_used REAL NOT NULL,"
            " version INTEGER NOT NULL DEFAULT 0)"
        )
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        if "version" not in columns:  # a file written before versions existed
            db.execute("ALTER TABLE sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
        db.execute("CREATE INDEX IF NOT EXISTS sessions_last_used ON sessions (last_used)")
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._guard:
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._open()
            with self._guard:
                self._connections.append(db)
        try:
            yield db
        finally:
            with self._guard:
                self._idle.append(db)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _encode(session: Session) -> str:
        return json.dumps(codec.to_document(session, compact=True), separators=(",", ":"))

    def add(self, session: Session) -> None:
        now = self.clock()
        document = self._encode(session)
        with self._transaction() as db:
            db.execute("DELETE FROM sessions WHERE last_used < ?", (now - self.ttl,))
            (count,) = db.execute("SELECT COUNT(*) FROM sessions").fetchone()
            excess = count - self.max_sessions + 1
            if excess > 0:
                db.execute(
                    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ORDER BY last_used LIMIT ?)",
                    (excess,),
                )
            db.execute(
                "INSERT INTO sessions (id, document, last_used) VALUES (?, ?, ?)", (session.id, document, now)
            )

    def _load(self, session_id: str) -> tuple[Session, int]:
        """The session and its version, marked as used now (a short transaction)."""
        now = self.clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT document, last_used, version FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise SessionNotFoundError(session_id)
            if now - row[1] > self.ttl:
                db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                raise SessionNotFoundError(session_id)
            db.execute("UPDATE sessions SET last_used = ? WHERE id = ?", (now, session_id))
        return codec.from_document(json.loads(row[0]), session_id), int(row[2])

    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            return self._load(session_id)[0]

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        # The change is computed outside any database transaction (a long training must not hold
        # the file's write lock and stall every other session), then written back only if the
        # row is still the version it was read at; within this process the per-session lock
        # already guarantees that, the version guards against other server processes.
        with self._locked(session_id):
            for _ in range(CONFLICT_RETRIES):
                current, version = self._load(session_id)
                new = change(current)
                document = self._encode(new)
                with self._transaction() as db:
                    written = db.execute(
                        "UPDATE sessions SET document = ?, version = version + 1"
                        " WHERE id = ? AND version = ?",
                        (document, session_id, version),
                    ).rowcount
                    if written:
                        return new
                    if db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                        raise SessionNotFoundError(session_id)
            raise StoreBusyError("the session kept changing under another server process: try again")

    def delete(self, session_id: str) -> None:
        with self._locked(session_id), self._transaction() as db:
            if db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount == 0:
                raise SessionNotFoundError(session_id)

    def count(self) -> int:
        with self._connection() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM sessions").fetchone()
        return int(count)

    def open_connections(self) -> int:
        """How many connections the pool holds (as many as requests were ever at once)."""
        with self._guard:
            return len(self._connections)

    def close(self) -> None:
        with self._guard:
            connections, self._connections, self._idle = self._connections, [], []
        for db in connections:
            db.close()


def open_store(settings: Settings, clock: Clock = time.time) -> SessionStore:
    """The backend the settings choose."""
    if settings.store == "memory":
        return MemoryStore(ttl=settings.session_ttl, max_sessions=settings.max_sessions, clock=clock)
    return SqliteStore(
        settings.data_dir / "sessions.sqlite3",
        ttl=settings.session_ttl,
        max_sessions=settings.max_sessions,
        clock=clock,
    )
