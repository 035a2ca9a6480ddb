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
import functools
import json
import math
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, TypeVar

import numpy as np
import redis
from redis.client import Pipeline
from redis.commands.core import Script

from app import codec
from app.engine import Architecture
from app.errors import SessionNotFoundError, StoreBusyError
from app.history import (
    Envelope,
    FloatArray,
    History,
    Kept,
    Snapshot,
    Summary,
    apply,
    to_save,
    width_for,
)
from app.session import Session
from app.store.base import Clock, SessionStore

PREFIX = "backprop:"
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

_BUCKET = np.dtype([("low", "<f8"), ("high", "<f8"), ("low_at", "<i8"), ("high_at", "<i8")])
_SNAPSHOT = struct.Struct("<qq?d")  # sample index, bytes of params, has a loss, the loss
_STEP = struct.Struct("<q")
_LOSS = struct.Struct("<d")

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
# register session ARGV[3] as used at ARGV[4]; the ids dropped.
_MAKE_ROOM = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[3])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2]) + 1
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do
    gone[#gone + 1] = id
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return gone
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


@contextmanager
def _reachable() -> Iterator[None]:
    """Redis down or too slow: the store is busy (503, try again), not the request wrong."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreBusyError(f"Redis cannot be reached: {exc}") from exc


def _translated(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _reachable():
            return method(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class _Keys:
    state: str
    losses: str
    envelope: str
    kept: str
    params: str

    @classmethod
    def of(cls, session_id: str) -> _Keys:
        return cls(*(f"{PREFIX}{kind}:{session_id}" for kind in "slekp"))

    @property
    def history(self) -> tuple[str, str, str, str]:
        return (self.losses, self.envelope, self.kept, self.params)

    @property
    def all(self) -> tuple[str, ...]:
        return (self.state, *self.history)


def _blob(value: object) -> bytes:
    """A reply that must be bytes (the client never decodes replies)."""
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes from Redis, got {type(value).__name__}")
    return value


def _kept_member(step: int, loss: float | None) -> bytes:
    return _STEP.pack(step) + (b"" if loss is None else _LOSS.pack(loss))


def _kept_from_member(member: bytes) -> Kept:
    (step,) = _STEP.unpack_from(member)
    return Kept(step, _LOSS.unpack_from(member, _STEP.size)[0] if len(member) > _STEP.size else None)


def _snapshot_blob(snap: Snapshot) -> bytes:
    params = codec.pack_params(snap.params)
    previous = b"" if snap.previous is None else codec.pack_params(snap.previous)
    loss = 0.0 if snap.loss is None else snap.loss
    return _SNAPSHOT.pack(snap.sample_index, len(params), snap.loss is not None, loss) + params + previous


def _snapshot_from_blob(arch: Architecture, step: int, blob: bytes) -> Snapshot:
    index, size, has_loss, loss = _SNAPSHOT.unpack_from(blob)
    params = blob[_SNAPSHOT.size : _SNAPSHOT.size + size]
    previous = blob[_SNAPSHOT.size + size :]
    return codec.snapshot_from_row(arch, step, loss if has_loss else None, index, params, previous or None)


def _envelope_bytes(env: Envelope) -> bytes:
    table = np.empty(env.buckets, dtype=_BUCKET)
    table["low"], table["high"], table["low_at"], table["high_at"] = (
        env.low,
        env.high,
        env.low_at,
        env.high_at,
    )
    return table.tobytes()


class _Reads:
    """Reading one session's history through ``client`` (the pool, or a WATCHing pipeline)."""

    def __init__(self, client: redis.Redis, session_id: str, arch: Architecture, count: int) -> None:
        self._client = client
        self.keys = _Keys.of(session_id)
        self.arch = arch
        self._count = count

    @_translated
    def read_losses(self, start: int, stop: int) -> FloatArray:
        start, stop = max(0, start), min(stop, self._count)
        if start >= stop:
            return np.zeros(0)
        raw = _blob(self._client.getrange(self.keys.losses, start * 8, stop * 8 - 1))
        return np.frombuffer(raw, dtype="<f8").astype(np.float64)

    @_translated
    def read_kept(self) -> list[Kept]:
        return [_kept_from_member(_blob(m)) for m in self._client.zrange(self.keys.kept, 0, -1)]

    @_translated
    def read_snapshot(self, step: int) -> Snapshot | None:
        blob = self._client.hget(self.keys.params, str(step))
        return None if blob is None else _snapshot_from_blob(self.arch, step, _blob(blob))

    def _buckets(self, first: int, stop: int) -> np.ndarray:
        if first >= stop:
            return np.zeros(0, dtype=_BUCKET)
        raw = _blob(
            self._client.getrange(self.keys.envelope, first * _BUCKET.itemsize, stop * _BUCKET.itemsize - 1)
        )
        return np.frombuffer(raw, dtype=_BUCKET)

    def _envelope(self, first: int, table: np.ndarray) -> Envelope:
        return Envelope(
            self._count,
            width_for(self._count),
            first,
            table["low"].astype(np.float64),
            table["high"].astype(np.float64),
            table["low_at"].astype(np.int64),
            table["high_at"].astype(np.int64),
        )

    def _bucket_count(self) -> int:
        return -(-self._count // width_for(self._count))

    @_translated
    def read_envelope(self, first: int = 0) -> Envelope:
        return self._envelope(first, self._buckets(first, self._bucket_count()))


Op = Callable[[Pipeline], object]


class _Log(_Reads):
    """One session's history during a save: reads go to Redis at once (under WATCH), writes are
    queued for the MULTI/EXEC that also writes the state, so the save is all or nothing. The
    envelope is the one thing :func:`app.history.apply` reads after writing it: what was written is
    kept here and read back from here."""

    def __init__(
        self, client: redis.Redis, session_id: str, arch: Architecture, count: int, trim: Script
    ) -> None:
        super().__init__(client, session_id, arch, count)
        self.ops: list[Op] = []
        self._trim = trim
        self._written: np.ndarray | None = None  # buckets from ``_written_first`` on, as written
        self._written_first = 0

    def _cut(self, key: str, size: int, longest: int) -> None:
        self.ops.append(lambda pipe: self._trim(keys=[key], args=[size, longest], client=pipe))

    def truncate_losses(self, count: int) -> None:
        if count < self._count:
            # The dropped tail is overwritten by the next losses; rewrite the string only when the
            # tail is longer than what stays (so the work is at most that of dropping it).
            self._cut(self.keys.losses, count * 8, 2 * count * 8)
            self._count = count

    def append_losses(self, values: FloatArray) -> None:
        offset, data = self._count * 8, values.astype("<f8").tobytes()
        self.ops.append(lambda pipe: pipe.setrange(self.keys.losses, offset, data))
        self._count += int(values.size)

    def read_envelope(self, first: int = 0) -> Envelope:
        written, at = self._written, self._written_first
        if written is None:
            return super().read_envelope(first)
        if first >= at:
            return self._envelope(first, written[first - at :])
        with _reachable():
            below = self._buckets(first, at)
        return self._envelope(first, np.concatenate([below, written]))

    def write_envelope(self, env: Envelope) -> None:
        data = _envelope_bytes(env)
        key, size = self.keys.envelope, (env.first + env.buckets) * _BUCKET.itemsize
        if env.first == 0:
            self.ops.append(lambda pipe: pipe.set(key, data) if data else pipe.delete(key))
        else:
            self.ops.append(lambda pipe: pipe.setrange(key, env.first * _BUCKET.itemsize, data))
            self._cut(key, size, size)
        table = np.frombuffer(data, dtype=_BUCKET)
        if self._written is None or env.first <= self._written_first:
            self._written, self._written_first = table, env.first
        else:
            self._written = np.concatenate([self._written[: env.first - self._written_first], table])

    def drop_kept(self, from_step: int | None, steps: frozenset[int]) -> None:
        with _reachable():
            members = [_blob(m) for m in self._client.zrange(self.keys.kept, 0, -1)]
        doomed = [
            m
            for m in members
            if (from_step is not None and _kept_from_member(m).step >= from_step)
            or _kept_from_member(m).step in steps
        ]
        if doomed:
            fields = [str(_kept_from_member(m).step) for m in doomed]
            self.ops.append(lambda pipe: pipe.zrem(self.keys.kept, *doomed))
            self.ops.append(lambda pipe: pipe.hdel(self.keys.params, *fields))

    def add_kept(self, snapshots: Sequence[Snapshot]) -> None:
        if not snapshots:
            return
        scores = {_kept_member(s.step, s.loss): s.step for s in snapshots}
        blobs = {str(s.step): _snapshot_blob(s) for s in snapshots}
        self.ops.append(lambda pipe: pipe.zadd(self.keys.kept, scores))
        self.ops.append(lambda pipe: pipe.hset(self.keys.params, mapping=blobs))  # type: ignore[arg-type]


class RedisStore(SessionStore):
    """Sessions in a Redis database (``redis://host:port/db``), shared by every process using it."""

    def __init__(self, url: str, *, ttl: float, max_sessions: int, clock: Clock = time.time) -> None:
        super().__init__(ttl=ttl, max_sessions=max_sessions, clock=clock)
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

    def _source(self, session_id: str, arch: Architecture, summary: Summary) -> _Reads:
        return _Reads(self._client, session_id, arch, summary.losses)

    def _decode(self, session_id: str, state: bytes) -> Session:
        document = json.loads(state)
        losses = int(document["history"][0])
        arch = codec.config_from_json(document["config"]).arch
        return codec.state_from_json(document, session_id, _Reads(self._client, session_id, arch, losses))

    def _expire(self, pipe: Pipeline, keys: _Keys) -> None:
        for key in keys.all:
            pipe.pexpire(key, self._expire_ms)

    def _row(self, session_id: str) -> tuple[bytes, float, int]:
        """The session's state, last use and version; SessionNotFoundError if it is gone or expired
        (an expired one is deleted, unless it changed meanwhile)."""
        keys = _Keys.of(session_id)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.state, ["state", "version"])
            pipe.zscore(USED, session_id)
            (state, version), used = pipe.execute()
        if state is None or version is None or used is None:
            raise SessionNotFoundError(session_id)
        if self.clock() - used > self.ttl:
            self._drop_if_unchanged(session_id, int(version))
            raise SessionNotFoundError(session_id)
        return _blob(state), float(used), int(version)

    def _drop_if_unchanged(self, session_id: str, version: int) -> None:
        keys = _Keys.of(session_id)
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
                    pipe.delete(*_Keys.of(raw.decode()).all)
                pipe.execute()

    # ----------------------------------------------------------------------------------------
    # The interface
    # ----------------------------------------------------------------------------------------

    @_translated
    def add(self, session: Session) -> Session:
        now = self.clock()
        keys = _Keys.of(session.id)
        log = _Log(self._client, session.id, session.arch, 0, self._trim)
        pending, before, after = to_save(session.history, log)
        state = json.dumps(codec.state_to_json(session, after), separators=(",", ":"))
        if pending is not None:
            apply(pending, log, before)  # a new log: nothing to read, every write queued
        # Room is made and the id admitted atomically; the keys are written next. A session whose
        # id is admitted but whose keys are not (yet) there is not found, like one never added.
        gone = self._make_room(
            keys=[USED], args=[repr(now - self.ttl), self.max_sessions, session.id, repr(now)]
        )
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
        self._delete_sessions([_blob(g) for g in gone])
        return replace(session, history=History(self._source(session.id, session.arch, after), after))

    @_translated
    def get(self, session_id: str) -> Session:
        with self._locked(session_id):
            state, used, _version = self._row(session_id)
            now = self.clock()
            if now - used >= TOUCH_SECONDS:
                with self._client.pipeline(transaction=False) as pipe:
                    pipe.zadd(USED, {session_id: now}, xx=True)  # never brings back an evicted one
                    self._expire(pipe, _Keys.of(session_id))
                    pipe.execute()
            return self._decode(session_id, state)

    @_translated
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
        state = json.dumps(codec.state_to_json(new, after), separators=(",", ":"))
        keys = _Keys.of(new.id)
        with self._client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.state)  # type: ignore[no-untyped-call]
                stored = pipe.hget(keys.state, "version")
                if stored is None:
                    raise SessionNotFoundError(new.id)
                if int(stored) != version:
                    return None
                log = _Log(pipe, new.id, new.arch, before.losses, self._trim)
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
        return replace(new, history=History(self._source(new.id, new.arch, after), after))

    @_translated
    def delete(self, session_id: str) -> None:
        keys = _Keys.of(session_id)
        with self._locked(session_id), self._client.pipeline(transaction=True) as pipe:
            pipe.zrem(USED, session_id)
            pipe.delete(keys.state)
            pipe.delete(*keys.history)
            _, existed, _ = pipe.execute()
            if not existed:
                raise SessionNotFoundError(session_id)

    @_translated
    def count(self) -> int:
        return int(self._client.zcard(USED))

    @_translated
    def stamp(self, session_id: str) -> int:
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(_Keys.of(session_id).state, "version")
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
        keys = _Keys.of(session_id)
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

    @_translated
    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        return bool(self._client.set(self._record_key(kind, key), value, px=self._ms(ttl), nx=only_if_absent))

    @_translated
    def _get_record(self, kind: str, key: str) -> bytes | None:
        value = self._client.get(self._record_key(kind, key))
        return None if value is None else _blob(value)

    @_translated
    def _replace_record(self, kind: str, key: str, expected: bytes, value: bytes, ttl: float) -> bool:
        return bool(self._replace(keys=[self._record_key(kind, key)], args=[expected, value, self._ms(ttl)]))

    @_translated
    def _delete_record(self, kind: str, key: str, expected: bytes | None) -> bool:
        name = self._record_key(kind, key)
        if expected is None:
            return bool(self._client.delete(name))
        return bool(self._delete(keys=[name], args=[expected]))

    def record_ttl(self, kind: str, key: str) -> float | None:
        """Seconds the record has left, as Redis counts them (None if there is none; for tests)."""
        left: Any = self._client.pttl(self._record_key(kind, key))
        return None if int(left) < 0 else int(left) / 1000
