"""Sessions in Redis: shared by every server process on every host that points at the same database.

Each session is five keys, all named after its id and all expiring together:

- ``backprop:s:{id}``, a hash: ``state`` (the state document, a few KB) and ``version``;
- ``backprop:l:{id}``, the losses as one string of little-endian float64 (appended with SETRANGE);
- ``backprop:e:{id}``, the loss envelope as one string of 32-byte buckets (low, high, low_at, high_at);
- ``backprop:k:{id}``, a sorted set of the kept states (score: the step; member: step and loss);
- ``backprop:p:{id}``, a hash from step to the kept state's parameters.

The strings may run past what the state says they hold (a cut leaves the dropped tail until it is
overwritten or grows past twice the rest); readers read only what the state says. A step writes the
state and a few hundred bytes of the log, whatever the history holds.

Which sessions exist, and when each was last used, is the sorted set ``backprop:used`` (score: the
store's clock): expiry and the least-recently-used cap read it, and a Lua script trims it and
registers a new session in one atomic step, so processes adding at once never pass the cap. The
session's keys also carry Redis's own expiry (the TTL plus a margin, refreshed on use), so a session
whose process died mid-way is still cleaned up.

No lost update: an update computes its change outside any transaction, then writes under WATCH of
the state key only if the version is still the one it read (else it recomputes), in one MULTI/EXEC.
That is optimistic like the SQLite store: no lock is held while a long training computes, and a
process killed mid-update leaves nothing half-written (a lock held by a dead process would block the
session until it expired instead).

Records (see :class:`SessionStore`) are keys ``backprop:r:{kind}:{key}`` with Redis's own expiry; a
compare-and-set is a Lua script.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

import redis
from redis.client import Pipeline

from app import codec, stored_state
from app.engine import Architecture
from app.errors import SessionNotFoundError, StoreBusyError
from app.history import History, Summary, apply, to_save
from app.session import Session
from app.store.base import KEEP_RECENT_SECONDS, Clock, SessionStore
from app.store.redis_history import (
    PREFIX,
    HistoryReader,
    HistoryWriter,
    Keys,
    as_bytes,
    translated,
)

#: The sorted set of every session's id, scored by its last use.
USED = PREFIX + "used"
#: How often an update is recomputed when another process changed the session meanwhile.
CONFLICT_RETRIES = 5
#: A read marks a session as used (and renews its keys' expiry) at most this often.
TOUCH_SECONDS = 1.0
#: Redis expires a session's keys this long after the TTL (the store's clock decides expiry; this
#: only cleans up after sessions nobody asks for again, and must not pre-empt that clock).
EXPIRY_GRACE = 3600.0
#: Sessions whose keys one pipeline deletes after an eviction.
DELETE_BATCH = 100


# Cut a string to ARGV[1] bytes (deleting it at 0) when it is longer than ARGV[2] bytes.
_TRIM = """
local n = tonumber(ARGV[1])
if n == 0 then
  redis.call('DEL', KEYS[1])
elseif redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], redis.call('GETRANGE', KEYS[1], 0, n - 1))
end
return 0
"""

# Drop the sessions unused since ARGV[1], then the least recently used beyond ARGV[2] - 1, and
# register session ARGV[3] as used at ARGV[4]: {false, the ids dropped}. Unless one of those to
# evict was used since ARGV[5]: then none is evicted nor the session registered, and the reply is
# {the last use of the most recent of them, the expired ids dropped}.
_MAKE_ROOM = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[3])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2]) + 1
if excess > 0 then
  local evicted = redis.call('ZRANGE', KEYS[1], 0, excess - 1, 'WITHSCORES')
  local latest = evicted[#evicted]
  if tonumber(latest) > tonumber(ARGV[5]) then
    return {latest, gone}
  end
  for at = 1, #evicted, 2 do
    gone[#gone + 1] = evicted[at]
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return {false, gone}
"""

# Compare and set: if KEYS[1] holds ARGV[1], set it to ARGV[2] for ARGV[3] ms; 1 if it did.
_REPLACE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# Compare and delete: if KEYS[1] holds ARGV[1], delete it; 1 if it did.
_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

P = ParamSpec("P")
R = TypeVar("R")


class RedisStore(SessionStore):
    """Sessions in a Redis database (``redis://host:port/db``), shared by every process using it."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        max_sessions: int,
        clock: Clock = time.time,
        keep_recent: float = KEEP_RECENT_SECONDS,
    ) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent)
        self.url = url
        # Replies stay bytes (losses and parameters are binary); a dead server fails a request in
        # seconds rather than hanging it. Connecting waits for the first command.
        self._client = redis.Redis.from_url(
            url, socket_timeout=10.0, socket_connect_timeout=5.0, health_check_interval=30
        )
        self._expire_ms = math.ceil((ttl + EXPIRY_GRACE) * 1000)
        self._trim = self._client.register_script(_TRIM)
        self._make_room = self._client.register_script(_MAKE_ROOM)
        self._replace = self._client.register_script(_REPLACE)
        self._delete = self._client.register_script(_DELETE)

    # ----------------------------------------------------------------------------------------
    # Rows
    # ----------------------------------------------------------------------------------------

    def _source(self, session_id: str, arch: Architecture, summary: Summary) -> HistoryReader:
        return HistoryReader(self._client, session_id, arch, summary.losses)

    def _decode(self, session_id: str, state: bytes) -> Session:
        document = json.loads(state)
        losses = int(document["history"][0])
        arch = codec.config_from_json(document["config"]).arch
        return stored_state.state_from_json(
            document, session_id, HistoryReader(self._client, session_id, arch, losses)
        )

    def _expire(self, pipe: Pipeline, keys: Keys) -> None:
        for key in keys.all:
            pipe.pexpire(key, self._expire_ms)

    def _row(self, session_id: str) -> tuple[bytes, float, int]:
        """The session's state, last use and version; SessionNotFoundError if it is gone or expired
        (an expired one is deleted, unless it changed meanwhile)."""
        keys = Keys.of(session_id)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.state, ["state", "version"])
            pipe.zscore(USED, session_id)
            (state, version), used = pipe.execute()
        if state is None or version is None or used is None:
            raise SessionNotFoundError(session_id)
        if self.clock() - used > self.ttl:
            self._drop_if_unchanged(session_id, int(version))
            raise SessionNotFoundError(session_id)
        return as_bytes(state), float(used), int(version)

    def _drop_if_unchanged(self, session_id: str, version: int) -> None:
        keys = Keys.of(session_id)
        with self._client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.state)  # type: ignore[no-untyped-call]
                if pipe.hget(keys.state, "version") != str(version).encode():
                    return
                pipe.multi()
                pipe.delete(*keys.all)
                pipe.zrem(USED, session_id)
                pipe.execute()
            except redis.WatchError:
                pass  # used meanwhile: not expired after all

    def _delete_sessions(self, session_ids: Sequence[bytes]) -> None:
        for at in range(0, len(session_ids), DELETE_BATCH):
            with self._client.pipeline(transaction=False) as pipe:
                for raw in session_ids[at : at + DELETE_BATCH]:
                    pipe.delete(*Keys.of(raw.decode()).all)
                pipe.execute()

    # ----------------------------------------------------------------------------------------
    # The interface
    # ----------------------------------------------------------------------------------------

    @translated
    def add(self, session: Session) -> Session:
        now = self.clock()
        keys = Keys.of(session.id)
        log = HistoryWriter(self._client, session.id, session.arch, 0, self._trim)
        pending, before, after = to_save(session.history, log)
        state = json.dumps(stored_state.state_to_json(session, after), separators=(",", ":"))
        if pending is not None:
            apply(pending, log, before)  # a new log: nothing to read, every write queued
        # Room is made and the id admitted atomically; the keys are written next. A session whose
        # id is admitted but whose keys are not (yet) there is not found, like one never added.
        expired, recent = repr(now - self.ttl), repr(now - self.keep_recent)
        latest, gone = self._make_room(
            keys=[USED], args=[expired, self.max_sessions, session.id, repr(now), recent]
        )
        if latest is not None:
            self._delete_sessions([as_bytes(g) for g in gone])
            raise self.full(float(latest), now)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(*keys.all)
                pipe.hset(keys.state, mapping={"state": state, "version": 0})
                for op in log.ops:
                    op(pipe)
                self._expire(pipe, keys)
                pipe.execute()
        except BaseException:
            with contextlib.suppress(redis.exceptions.RedisError):
                self._client.zrem(USED, session.id)
            raise
        # Were this process to die here, the keys of the sessions dropped would linger until
        # Redis's own expiry: they are no longer sessions (not in ``USED``), only memory.
        self._delete_sessions([as_bytes(g) for g in gone])
        return replace(session, history=History(self._source(session.id, session.arch, after), after))

    @translated
    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            state, used, version = self._row(session_id)
            now = self.clock()
            if now - used >= TOUCH_SECONDS:
                with self._client.pipeline(transaction=False) as pipe:
                    pipe.zadd(USED, {session_id: now}, xx=True)  # never brings back an evicted one
                    self._expire(pipe, Keys.of(session_id))
                    pipe.execute()
            return replace(self._decode(session_id, state), stamp=version)

    @translated
    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        # As in the SQLite store: the change is computed with no transaction open, then written
        # only if the session is still at the version it was read at.
        with self._locked(session_id):
            for _ in range(CONFLICT_RETRIES):
                state, _, version = self._row(session_id)
                current = self._decode(session_id, state)
                new = change(current)
                saved = self._write(current, new, version)
                if saved is not None:
                    return saved
            raise StoreBusyError("the session kept changing under another server process: try again")

    def _write(self, current: Session, new: Session, version: int) -> Session | None:
        """Save ``new`` over ``current`` if the session is still at ``version``; None if it is not."""
        source = current.history.source
        replaced = new.history.source is not source
        pending, before, after = to_save(new.history, source)
        state = json.dumps(stored_state.state_to_json(new, after), separators=(",", ":"))
        keys = Keys.of(new.id)
        with self._client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.state)  # type: ignore[no-untyped-call]
                stored = pipe.hget(keys.state, "version")
                if stored is None:
                    raise SessionNotFoundError(new.id)
                if int(stored) != version:
                    return None
                log = HistoryWriter(pipe, new.id, new.arch, before.losses, self._trim)
                if pending is not None:
                    apply(pending, log, before)
                pipe.multi()
                if replaced:
                    pipe.delete(*keys.history)
                pipe.hset(keys.state, mapping={"state": state, "version": version + 1})
                pipe.zadd(USED, {new.id: self.clock()}, xx=True)
                for op in log.ops:
                    op(pipe)
                self._expire(pipe, keys)
                pipe.execute()
            except redis.WatchError:
                return None
        return replace(new, history=History(self._source(new.id, new.arch, after), after), stamp=version + 1)

    @translated
    def delete(self, session_id: str) -> None:
        keys = Keys.of(session_id)
        with self._locked(session_id), self._client.pipeline(transaction=True) as pipe:
            pipe.zrem(USED, session_id)
            pipe.delete(keys.state)
            pipe.delete(*keys.history)
            _, existed, _ = pipe.execute()
            if not existed:
                raise SessionNotFoundError(session_id)

    @translated
    def count(self) -> int:
        return int(self._client.zcard(USED))

    @translated
    def stamp(self, session_id: str) -> int:
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(Keys.of(session_id).state, "version")
            pipe.zscore(USED, session_id)
            version, used = pipe.execute()
        if version is None or used is None or self.clock() - used > self.ttl:
            raise SessionNotFoundError(session_id)
        return int(version)

    def ping(self) -> None:
        """The server answers PING (else redis-py's error says why)."""
        self._client.ping()

    def close(self) -> None:
        self._client.close()

    def history_keys(self, session_id: str) -> dict[str, int]:
        """Which of the session's keys exist, with their sizes in bytes or members (for tests)."""
        keys = Keys.of(session_id)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.strlen(keys.losses)
            pipe.strlen(keys.envelope)
            pipe.zcard(keys.kept)
            pipe.hlen(keys.params)
            pipe.exists(keys.state)
            losses, envelope, kept, params, state = pipe.execute()
        return {"state": state, "losses": losses, "envelope": envelope, "kept": kept, "params": params}

    # ----------------------------------------------------------------------------------------
    # Records
    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _record_key(kind: str, key: str) -> str:
        return f"{PREFIX}r:{kind}:{key}"

    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, math.ceil(ttl * 1000))

    @translated
    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        return bool(self._client.set(self._record_key(kind, key), value, px=self._ms(ttl), nx=only_if_absent))

    @translated
    def _get_record(self, kind: str, key: str) -> bytes | None:
        value = self._client.get(self._record_key(kind, key))
        return None if value is None else as_bytes(value)

    @translated
    def _replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool:
        return bool(self._replace(keys=[self._record_key(kind, key)], args=[expected, value, self._ms(ttl)]))

    @translated
    def _delete_record(self, kind: str, key: str, expected: bytes | None) -> bool:
        name = self._record_key(kind, key)
        if expected is None:
            return bool(self._client.delete(name))
        return bool(self._delete(keys=[name], args=[expected]))

    def record_ttl(self, kind: str, key: str) -> float | None:
        """Seconds the record has left, as Redis counts them (None if there is none; for tests)."""
        left: Any = self._client.pttl(self._record_key(kind, key))
        return None if int(left) < 0 else int(left) / 1000
