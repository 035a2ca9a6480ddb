"""One session's history in Redis: the key layout, how each part is written as bytes, and reading
(:class:`HistoryReader`) or changing it inside a MULTI/EXEC (:class:`HistoryWriter`, what
:func:`app.history.apply` calls). See app/store/redis.py for the layout of the keys."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import redis
from redis.client import Pipeline
from redis.commands.core import Script

from app import stored_state
from app.engine import Architecture
from app.envelope import Envelope, FloatArray, width_for
from app.errors import StoreBusyError
from app.history import Kept, Snapshot

PREFIX = "backprop:"

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def reachable() -> Iterator[None]:
    """Redis down or too slow: the store is busy (503, try again), not the request wrong."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreBusyError(f"Redis cannot be reached: {exc}") from exc


def translated(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reachable():
            return method(*args, **kwargs)

    return wrapper


BUCKET = np.dtype([("low", "<f8"), ("high", "<f8"), ("low_at", "<i8"), ("high_at", "<i8")])
SNAPSHOT_HEADER = struct.Struct("<qq?d")  # sample index, bytes of params, has a loss, the loss
STEP = struct.Struct("<q")
LOSS = struct.Struct("<d")


@dataclass(frozen=True)
class Keys:
    state: str
    losses: str
    envelope: str
    kept: str
    params: str

    @classmethod
    def of(cls, session_id: str) -> Keys:
        return cls(*(f"{PREFIX}{kind}:{session_id}" for kind in "slekp"))

    @property
    def history(self) -> tuple[str, str, str, str]:
        return (self.losses, self.envelope, self.kept, self.params)

    @property
    def all(self) -> tuple[str, ...]:
        return (self.state, *self.history)


def as_bytes(value: object) -> bytes:
    """A reply that must be bytes (the client never decodes replies)."""
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes from Redis, got {type(value).__name__}")
    return value


def kept_member(step: int, loss: float | None) -> bytes:
    return STEP.pack(step) + (b"" if loss is None else LOSS.pack(loss))


def kept_from_member(member: bytes) -> Kept:
    (step,) = STEP.unpack_from(member)
    return Kept(step, LOSS.unpack_from(member, STEP.size)[0] if len(member) > STEP.size else None)


def snapshot_blob(snap: Snapshot) -> bytes:
    params = stored_state.pack_params(snap.params)
    previous = b"" if snap.previous is None else stored_state.pack_params(snap.previous)
    loss = 0.0 if snap.loss is None else snap.loss
    return (
        SNAPSHOT_HEADER.pack(snap.sample_index, len(params), snap.loss is not None, loss) + params + previous
    )


def snapshot_from_blob(arch: Architecture, step: int, blob: bytes) -> Snapshot:
    index, size, has_loss, loss = SNAPSHOT_HEADER.unpack_from(blob)
    params = blob[SNAPSHOT_HEADER.size : SNAPSHOT_HEADER.size + size]
    previous = blob[SNAPSHOT_HEADER.size + size :]
    return stored_state.snapshot_from_row(
        arch, step, loss if has_loss else None, index, params, previous or None
    )


def envelope_bytes(env: Envelope) -> bytes:
    table = np.empty(env.buckets, dtype=BUCKET)
    table["low"], table["high"], table["low_at"], table["high_at"] = (
        env.low,
        env.high,
        env.low_at,
        env.high_at,
    )
    return table.tobytes()


class HistoryReader:
    """Reading one session's history through ``client`` (the pool, or a WATCHing pipeline)."""

    def __init__(self, client: redis.Redis, session_id: str, arch: Architecture, count: int) -> None:
        self._client = client
        self.keys = Keys.of(session_id)
        self.arch = arch
        self._count = count

    @translated
    def read_losses(self, start: int, stop: int) -> FloatArray:
        start, stop = max(0, start), min(stop, self._count)
        if start >= stop:
            return np.zeros(0)
        raw = as_bytes(self._client.getrange(self.keys.losses, start * 8, stop * 8 - 1))
        return np.frombuffer(raw, dtype="<f8").astype(np.float64)

    @translated
    def read_kept(self) -> list[Kept]:
        return [kept_from_member(as_bytes(m)) for m in self._client.zrange(self.keys.kept, 0, -1)]

    @translated
    def read_snapshot(self, step: int) -> Snapshot | None:
        blob = self._client.hget(self.keys.params, str(step))
        return None if blob is None else snapshot_from_blob(self.arch, step, as_bytes(blob))

    def _buckets(self, first: int, stop: int) -> np.ndarray:
        if first >= stop:
            return np.zeros(0, dtype=BUCKET)
        raw = as_bytes(
            self._client.getrange(self.keys.envelope, first * BUCKET.itemsize, stop * BUCKET.itemsize - 1)
        )
        return np.frombuffer(raw, dtype=BUCKET)

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

    @translated
    def read_envelope(self, first: int = 0) -> Envelope:
        return self._envelope(first, self._buckets(first, self._bucket_count()))


Op = Callable[[Pipeline], object]


class HistoryWriter(HistoryReader):
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
        with reachable():
            below = self._buckets(first, at)
        return self._envelope(first, np.concatenate([below, written]))

    def write_envelope(self, env: Envelope) -> None:
        data = envelope_bytes(env)
        key, size = self.keys.envelope, (env.first + env.buckets) * BUCKET.itemsize
        if env.first == 0:
            self.ops.append(lambda pipe: pipe.set(key, data) if data else pipe.delete(key))
        else:
            self.ops.append(lambda pipe: pipe.setrange(key, env.first * BUCKET.itemsize, data))
            self._cut(key, size, size)
        table = np.frombuffer(data, dtype=BUCKET)
        if self._written is None or env.first <= self._written_first:
            self._written, self._written_first = table, env.first
        else:
            self._written = np.concatenate([self._written[: env.first - self._written_first], table])

    def drop_kept(self, from_step: int | None, steps: frozenset[int]) -> None:
        with reachable():
            members = [as_bytes(m) for m in self._client.zrange(self.keys.kept, 0, -1)]
        doomed = [
            m
            for m in members
            if (from_step is not None and kept_from_member(m).step >= from_step)
            or kept_from_member(m).step in steps
        ]
        if doomed:
            fields = [str(kept_from_member(m).step) for m in doomed]
            self.ops.append(lambda pipe: pipe.zrem(self.keys.kept, *doomed))
            self.ops.append(lambda pipe: pipe.hdel(self.keys.params, *fields))

    def add_kept(self, snapshots: Sequence[Snapshot]) -> None:
        if not snapshots:
            return
        scores = {kept_member(s.step, s.loss): s.step for s in snapshots}
        blobs = {str(s.step): snapshot_blob(s) for s in snapshots}
        self.ops.append(lambda pipe: pipe.zadd(self.keys.kept, scores))
        self.ops.append(lambda pipe: pipe.hset(self.keys.params, mapping=blobs))  # type: ignore[arg-type]
