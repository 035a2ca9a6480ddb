"""Where sessions live: one interface (:class:`SessionStore`) and its backends.

Three backends: in memory (one process), an SQLite file (the processes of one host) and Redis
(processes on any number of hosts). Every backend keeps a session's state apart from its history
(an append-only log, see app/history.py), serialises work on one session, expires sessions left
unused for longer than the TTL and, when full, evicts the least recently used; and keeps small
shared records with a time to live. Routes and engine never see which one is used.
"""

from __future__ import annotations

import time

from app.errors import SessionNotFoundError, StoreBusyError
from app.settings import Settings
from app.store.base import Clock, SessionStore
from app.store.memory import MemoryStore
from app.store.redis import RedisStore
from app.store.sqlite import SqliteStore

__all__ = [
    "Clock",
    "MemoryStore",
    "RedisStore",
    "SessionNotFoundError",
    "SessionStore",
    "SqliteStore",
    "StoreBusyError",
    "open_store",
]


def open_store(settings: Settings, clock: Clock = time.time) -> SessionStore:
    """The backend the settings choose."""
    if settings.store == "memory":
        return MemoryStore(ttl=settings.session_ttl, max_sessions=settings.max_sessions, clock=clock)
    if settings.store == "redis":
        return RedisStore(
            settings.redis_url, ttl=settings.session_ttl, max_sessions=settings.max_sessions, clock=clock
        )
    return SqliteStore(
        settings.data_dir / "sessions.sqlite3",
        ttl=settings.session_ttl,
        max_sessions=settings.max_sessions,
        clock=clock,
    )
