"""Sessions in an embedded SQLite file (WAL mode): they survive a restart of the server.

Five tables: ``session_states`` (one row per session: its state document, a few KB, its last use and
a version), and the history as an append-only log — ``losses`` (fixed-size chunks of float64),
``kept`` (one row per kept state) and ``envelope`` (the min–max buckets of the loss curve). A step
rewrites the state row and touches one or two rows of the log, whatever the history holds. The
fifth, ``records``, holds the store's small records (see :class:`SessionStore`) with their expiry time.

Connections come from a pool (threads that come and go, like training runs, leave none behind);
writes run in ``BEGIN IMMEDIATE`` transactions and a session's row carries a version, so several
server processes can share the file without losing an update.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app import codec, stored_state
from app.engine import Architecture
from app.errors import InvalidInputError, SessionNotFoundError, StoreBusyError
from app.history import History, Pending, Summary, apply, to_save
from app.session import Session
from app.store.base import KEEP_RECENT_SECONDS, Clock, SessionStore
from app.store.sqlite_history import HistoryReader, HistoryWriter

#: How often an update is recomputed when another process changed the session meanwhile.
CONFLICT_RETRIES = 5
#: A change that computed for less than this is done again inside one write transaction after a
#: conflict (holding the file's write lock that long costs other writers little).
LOCKED_CHANGE_SECONDS = 0.05
#: A read marks a session as used at most this often (a write per read would cost more than it tells).
TOUCH_SECONDS = 1.0
#: Sessions this process keeps decoded, by id, with the version they were read or written at.
CACHED_SESSIONS = 1024
#: The layout this module writes (``PRAGMA user_version``); 0 is the layout before the history
#: moved out of the session document, which :meth:`SqliteStore._migrate` converts.
SCHEMA_VERSION = 2

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS session_states ("
    " id TEXT PRIMARY KEY, state TEXT NOT NULL, last_used REAL NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS session_states_last_used ON session_states (last_used)",
    "CREATE TABLE IF NOT EXISTS losses ("
    " sid TEXT NOT NULL, chunk INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sid, chunk))",
    "CREATE TABLE IF NOT EXISTS kept ("
    " sid TEXT NOT NULL, step INTEGER NOT NULL, loss REAL, sample_index INTEGER NOT NULL,"
    " params BLOB NOT NULL, previous BLOB, PRIMARY KEY (sid, step))",
    "CREATE TABLE IF NOT EXISTS envelope ("
    " sid TEXT NOT NULL, bucket INTEGER NOT NULL, low REAL NOT NULL, high REAL NOT NULL,"
    " low_at INTEGER NOT NULL, high_at INTEGER NOT NULL, PRIMARY KEY (sid, bucket)) WITHOUT ROWID",
    # Added after layout 2 without a new version: a file of layout 2 simply gains the table.
    "CREATE TABLE IF NOT EXISTS records ("
    " kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (kind, key))",
    "CREATE INDEX IF NOT EXISTS records_expires ON records (expires)",
)
HISTORY_TABLES = ("losses", "kept", "envelope")


@dataclass(frozen=True)
class _Prepared:
    """A session's save, worked out: its state document and the changes to its history."""

    state: str
    #: Whether the history was replaced (read from another source: an import, say).
    replaced: bool
    pending: Pending | None
    before: Summary
    after: Summary


class SqliteStore(SessionStore):
    """Sessions in an SQLite file: their states in one table, their histories in three more."""

    def __init__(
        self,
        path: Path,
        *,
        ttl: float,
        max_sessions: int,
        clock: Clock = time.time,
        keep_recent: float = KEEP_RECENT_SECONDS,
    ) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent)
        self.path = path
        self._idle: list[sqlite3.Connection] = []
        self._connections: list[sqlite3.Connection] = []
        self._ready = threading.Lock()
        self._migrated = False
        self._writer = threading.Lock()
        # The sessions last read or written here, with their row's version: a request whose row
        # still has that version (no other process changed it) skips decoding the state.
        self._cache: OrderedDict[str, tuple[int, Session]] = OrderedDict()

    # ----------------------------------------------------------------------------------------
    # Connections
    # ----------------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # Opened on first use, so importing the app touches no file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with self._ready:
            if not self._migrated:
                self._prepare(db)
                self._migrated = True
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
        # One writer at a time within this process: threads queue on a Python lock instead of
        # polling SQLite's busy handler, which sleeps in growing steps (up to 100 ms) while it
        # waits. Other processes still meet SQLite's own lock (and its busy timeout).
        with self._writer, self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._connection() as db:
            return db.execute(sql, args).fetchall()

    # ----------------------------------------------------------------------------------------
    # Schema and the migration of the earlier layout
    # ----------------------------------------------------------------------------------------

    def _prepare(self, db: sqlite3.Connection) -> None:
        """Create the tables, converting a file written before the history moved out of the
        session document (every session keeps its state, history and last use)."""
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            for statement in SCHEMA:
                db.execute(statement)
            if version < SCHEMA_VERSION:
                self._migrate(db)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        if "document" not in columns:
            return
        rows = db.execute("SELECT id, document, last_used FROM sessions")
        for session_id, document, last_used in rows.fetchall():
            try:
                session = codec.from_document(json.loads(document), session_id)
            except (InvalidInputError, ValueError):
                continue  # unreadable before the upgrade too: nothing to keep
            self._insert(db, session, float(last_used))
        db.execute("DROP TABLE sessions")

    # ----------------------------------------------------------------------------------------
    # Rows
    # ----------------------------------------------------------------------------------------

    def _source(self, session_id: str, arch: Architecture, summary: Summary) -> HistoryReader:
        return HistoryReader(self._query, session_id, arch, summary.losses)

    def _decode(self, session_id: str, state: str) -> Session:
        document = json.loads(state)
        losses = int(document["history"][0])
        arch = codec.config_from_json(document["config"]).arch
        return stored_state.state_from_json(
            document, session_id, HistoryReader(self._query, session_id, arch, losses)
        )

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, session_id: str) -> None:
        db.execute("DELETE FROM session_states WHERE id = ?", (session_id,))
        for table in HISTORY_TABLES:
            db.execute(f"DELETE FROM {table} WHERE sid = ?", (session_id,))

    def _insert(self, db: sqlite3.Connection, session: Session, now: float) -> Session:
        """Write a session that is new to this file (its whole history)."""
        source = self._source(session.id, session.arch, Summary())
        pending, before, after = to_save(session.history, source)
        state = json.dumps(stored_state.state_to_json(session, after), separators=(",", ":"))
        db.execute(
            "INSERT INTO session_states (id, state, last_used) VALUES (?, ?, ?)", (session.id, state, now)
        )
        if pending is not None:
            apply(pending, HistoryWriter(db, session.id, session.arch, before.losses), before)
        return replace(session, history=History(self._source(session.id, session.arch, after), after))

    def _remember(self, session: Session, version: int) -> None:
        with self._guard:
            self._cache[session.id] = (version, session)
            self._cache.move_to_end(session.id)
            while len(self._cache) > CACHED_SESSIONS:
                self._cache.popitem(last=False)

    def _forget(self, session_id: str) -> None:
        with self._guard:
            self._cache.pop(session_id, None)

    def _load(self, session_id: str, db: sqlite3.Connection | None = None) -> tuple[Session, float, int]:
        """The session, its last use and its row's version; decoded only when the row has changed
        since this process last saw it. With ``db``, read (and an expired session dropped) in the
        write transaction open on it."""

        def query(sql: str, args: Sequence[Any]) -> list[Any]:
            return self._query(sql, args) if db is None else db.execute(sql, args).fetchall()

        rows = query("SELECT last_used, version FROM session_states WHERE id = ?", (session_id,))
        if not rows:
            self._forget(session_id)
            raise SessionNotFoundError(session_id)
        used, version = float(rows[0][0]), int(rows[0][1])
        if self.clock() - used > self.ttl:
            self._forget(session_id)
            if db is not None:
                self._delete_rows(db, session_id)
                raise SessionNotFoundError(session_id)
            with self._transaction() as writing:
                row = writing.execute(
                    "SELECT version FROM session_states WHERE id = ?", (session_id,)
                ).fetchone()
                if row is not None and row[0] == version:
                    self._delete_rows(writing, session_id)
            raise SessionNotFoundError(session_id)
        with self._guard:
            cached = self._cache.get(session_id)
        if cached is not None and cached[0] == version:
            return cached[1], used, version
        rows = query("SELECT state, version FROM session_states WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(session_id)
        session = replace(self._decode(session_id, rows[0][0]), stamp=int(rows[0][1]))
        self._remember(session, int(rows[0][1]))
        return session, used, int(rows[0][1])

    # ----------------------------------------------------------------------------------------
    # The interface
    # ----------------------------------------------------------------------------------------

    def add(self, session: Session) -> Session:
        now = self.clock()
        refusal = None
        with self._transaction() as db:
            gone = db.execute(
                "SELECT id FROM session_states WHERE last_used < ?", (now - self.ttl,)
            ).fetchall()
            (count,) = db.execute("SELECT COUNT(*) FROM session_states").fetchone()
            excess = count - len(gone) - self.max_sessions + 1
            if excess > 0:
                # Least recently used first: the last of those that would go is the most recent.
                evicted = db.execute(
                    "SELECT id, last_used FROM session_states WHERE last_used >= ?"
                    " ORDER BY last_used LIMIT ?",
                    (now - self.ttl, excess),
                ).fetchall()
                if evicted and self.is_recent(float(evicted[-1][1]), now):
                    refusal = self.full(float(evicted[-1][1]), now)
                else:
                    gone += [(row[0],) for row in evicted]
            for (old,) in gone:
                self._delete_rows(db, old)  # the expired go even when the new one cannot come in
            if refusal is None:
                stored = self._insert(db, session, now)
        if refusal is not None:
            raise refusal
        self._remember(stored, 0)
        return stored

    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            session, used, _ = self._load(session_id)
            now = self.clock()
            if now - used >= TOUCH_SECONDS:
                with self._transaction() as db:
                    db.execute("UPDATE session_states SET last_used = ? WHERE id = ?", (now, session_id))
            return session

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        # The change is computed outside any database transaction (a long training must not hold
        # the file's write lock and stall every other session), then written back only if the
        # row is still the version it was read at; within this process the per-session lock
        # already guarantees that, the version guards against other server processes. When
        # another process did write meanwhile, a short change (a step) is done again inside one
        # write transaction, where no other process can write: it cannot fail again however hard
        # two processes work on one session. A long one (a training) computes outside again.
        with self._locked(session_id):
            for _ in range(CONFLICT_RETRIES):
                current, _, version = self._load(session_id)
                began = time.perf_counter()
                new = change(current)
                took = time.perf_counter() - began
                saved = self._write(current, new, version)
                if saved is not None:
                    return saved
                if took < LOCKED_CHANGE_SECONDS:
                    return self._update_locked(session_id, change)
            raise StoreBusyError("the session kept changing under another server process: try again")

    def _update_locked(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        """Read, change and write the session in one write transaction."""
        with self._transaction() as db:
            current, _, version = self._load(session_id, db)
            new = change(current)
            saved = self._store(db, new, version, self._saving(current, new))
            assert saved is not None, "no other process writes while the transaction is open"
        self._remember(saved, version + 1)
        return saved

    def _saving(self, current: Session, new: Session) -> _Prepared:
        """What saving ``new`` over ``current`` writes (worked out before the write lock is taken)."""
        replaced = new.history.source is not current.history.source
        pending, before, after = to_save(new.history, current.history.source)
        state = json.dumps(stored_state.state_to_json(new, after), separators=(",", ":"))
        return _Prepared(state, replaced, pending, before, after)

    def _write(self, current: Session, new: Session, version: int) -> Session | None:
        """Save ``new`` over ``current`` if the row is still at ``version``; None if it is not."""
        prepared = self._saving(current, new)
        with self._transaction() as db:
            saved = self._store(db, new, version, prepared)
        if saved is not None:
            self._remember(saved, version + 1)
        return saved

    def _store(
        self, db: sqlite3.Connection, new: Session, version: int, prepared: _Prepared
    ) -> Session | None:
        """The writes of :meth:`_write`, in the transaction open on ``db``."""
        written = db.execute(
            "UPDATE session_states SET state = ?, version = version + 1, last_used = ?"
            " WHERE id = ? AND version = ?",
            (prepared.state, self.clock(), new.id, version),
        ).rowcount
        if not written:
            if db.execute("SELECT 1 FROM session_states WHERE id = ?", (new.id,)).fetchone() is None:
                raise SessionNotFoundError(new.id)
            return None
        if prepared.replaced:
            for table in HISTORY_TABLES:
                db.execute(f"DELETE FROM {table} WHERE sid = ?", (new.id,))
        if prepared.pending is not None:
            writer = HistoryWriter(db, new.id, new.arch, prepared.before.losses)
            apply(prepared.pending, writer, prepared.before)
        history = History(self._source(new.id, new.arch, prepared.after), prepared.after)
        return replace(new, history=history, stamp=version + 1)

    def delete(self, session_id: str) -> None:
        self._forget(session_id)
        with self._locked(session_id), self._transaction() as db:
            if db.execute("SELECT 1 FROM session_states WHERE id = ?", (session_id,)).fetchone() is None:
                raise SessionNotFoundError(session_id)
            self._delete_rows(db, session_id)

    def count(self) -> int:
        (count,) = self._query("SELECT COUNT(*) FROM session_states", ())[0]
        return int(count)

    def stamp(self, session_id: str) -> int:
        rows = self._query("SELECT last_used, version FROM session_states WHERE id = ?", (session_id,))
        if not rows or self.clock() - rows[0][0] > self.ttl:
            raise SessionNotFoundError(session_id)
        return int(rows[0][1])

    def ping(self) -> None:
        """The file opens (created if need be) and its table reads."""
        self._query("SELECT 1 FROM session_states LIMIT 1", ())

    # ----------------------------------------------------------------------------------------
    # Records
    # ----------------------------------------------------------------------------------------

    @contextmanager
    def _record_write(self) -> Iterator[tuple[sqlite3.Connection, float]]:
        """A write transaction on the records, the expired ones dropped first (the index finds them)."""
        now = self.clock()
        with self._transaction() as db:
            db.execute("DELETE FROM records WHERE expires <= ?", (now,))
            yield db, now

    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        verb = "INSERT OR IGNORE" if only_if_absent else "INSERT OR REPLACE"
        with self._record_write() as (db, now):
            return bool(
                db.execute(
                    f"{verb} INTO records (kind, key, value, expires) VALUES (?, ?, ?, ?)",
                    (kind, key, value, now + ttl),
                ).rowcount
            )

    def _get_record(self, kind: str, key: str) -> bytes | None:
        rows = self._query(
            "SELECT value FROM records WHERE kind = ? AND key = ? AND expires > ?", (kind, key, self.clock())
        )
        return bytes(rows[0][0]) if rows else None

    def _replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool:
        with self._record_write() as (db, now):
            return bool(
                db.execute(
                    "UPDATE records SET value = ?, expires = ? WHERE kind = ? AND key = ? AND value = ?",
                    (value, now + ttl, kind, key, expected),
                ).rowcount
            )

    def _delete_record(self, kind: str, key: str, expected: bytes | None) -> bool:
        with self._record_write() as (db, _):
            if expected is None:
                cursor = db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            else:
                cursor = db.execute(
                    "DELETE FROM records WHERE kind = ? AND key = ? AND value = ?", (kind, key, expected)
                )
            return bool(cursor.rowcount)

    def record_count(self) -> int:
        """Rows in the records table, expired ones not yet dropped included (for tests)."""
        return int(self._query("SELECT COUNT(*) FROM records", ())[0][0])

    def open_connections(self) -> int:
        """How many connections the pool holds (as many as requests were ever at once)."""
        with self._guard:
            return len(self._connections)

    def history_rows(self, session_id: str) -> dict[str, int]:
        """Rows of each history table the session has (for tests and the benchmarks)."""
        return {
            table: int(self._query(f"SELECT COUNT(*) FROM {table} WHERE sid = ?", (session_id,))[0][0])
            for table in HISTORY_TABLES
        }

    def close(self) -> None:
        with self._guard:
            connections, self._connections, self._idle = self._connections, [], []
        for db in connections:
            db.close()
