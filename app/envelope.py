"""The min–max envelope of a sequence of losses: what the loss curve is drawn from.

The losses ``[0, count)`` are cut into buckets of ``width`` losses (the smallest power of two that
needs at most :data:`MAX_BUCKETS` buckets); each bucket keeps its smallest and largest loss and
where they first occur, so a curve through those points keeps every spike. A store keeps the
envelope of every session's losses up to date as they are appended (:func:`extend` merges the new
losses into the last bucket without reading a stored loss again), so the chart never reads them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from app.limits import MAX_BUCKETS

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]


def _empty_floats() -> FloatArray:
    return np.zeros(0)


def _empty_indices() -> IndexArray:
    return np.zeros(0, dtype=np.int64)


def width_for(count: int) -> int:
    """Losses per bucket for ``count`` losses: the smallest power of two that needs ≤ MAX_BUCKETS."""
    width = 1
    while -(-count // width) > MAX_BUCKETS:
        width *= 2
    return width


@dataclass(frozen=True, eq=False)
class Envelope:
    """A min–max summary of ``losses[0:count]``: bucket b covers losses [b·width, (b+1)·width).

    Each bucket keeps its smallest and largest loss and where they first occur (absolute indices),
    so a curve drawn through those points keeps every spike; with ``width`` 1 it is every loss.
    A store may hold only some buckets (a *slice*): then ``first`` is the index of the first one.
    """

    count: int
    width: int
    first: int = 0
    low: FloatArray = field(default_factory=_empty_floats)
    high: FloatArray = field(default_factory=_empty_floats)
    low_at: IndexArray = field(default_factory=_empty_indices)
    high_at: IndexArray = field(default_factory=_empty_indices)

    @property
    def buckets(self) -> int:
        """Buckets held (all of them, unless a slice)."""
        return int(self.low.size)

    def same_as(self, other: Envelope) -> bool:
        return (
            (self.count, self.width, self.first) == (other.count, other.width, other.first)
            and np.array_equal(self.low, other.low)
            and np.array_equal(self.high, other.high)
            and np.array_equal(self.low_at, other.low_at)
            and np.array_equal(self.high_at, other.high_at)
        )

    def head(self, buckets: int) -> Envelope:
        """The first ``buckets`` buckets (of a whole envelope) and the losses they cover."""
        return Envelope(
            min(self.count, buckets * self.width),
            self.width,
            0,
            self.low[:buckets],
            self.high[:buckets],
            self.low_at[:buckets],
            self.high_at[:buckets],
        )

    def grouped(self, groups: int) -> Envelope:
        """The same losses in at most ``groups`` buckets (neighbours merged, widths doubling)."""
        if groups < 1:
            raise ValueError(f"groups: at least 1, got {groups}")
        factor = 1
        while -(-self.buckets // factor) > groups:
            factor *= 2
        return merge_buckets(self, factor)

    def points(self) -> tuple[IndexArray, FloatArray]:
        """Indices and values of a min–max curve's points, ascending by index, none repeated."""
        indices = np.concatenate([self.low_at, self.high_at])
        values = np.concatenate([self.low, self.high])
        order = np.argsort(indices, kind="stable")
        indices, values = indices[order], values[order]
        keep = np.ones(indices.size, dtype=bool)
        keep[1:] = indices[1:] != indices[:-1]
        return indices[keep], values[keep]


def _concat(first: int, count: int, width: int, parts: Sequence[Envelope]) -> Envelope:
    parts = [p for p in parts if p.buckets]
    if not parts:
        return Envelope(count, width, first)
    return Envelope(
        count,
        width,
        first,
        np.concatenate([p.low for p in parts]),
        np.concatenate([p.high for p in parts]),
        np.concatenate([p.low_at for p in parts]),
        np.concatenate([p.high_at for p in parts]),
    )


def summarise(values: FloatArray, start: int, width: int) -> Envelope:
    """The buckets of ``values`` = losses[start : start+len] (a slice; ``start`` may fall inside a
    bucket, whose part here is then summarised alone)."""
    n = int(values.size)
    count = start + n
    first = start // width
    if n == 0:
        return Envelope(count, width, first)
    lead = min(n, -start % width)
    parts: list[Envelope] = []
    if lead:
        piece = values[:lead]
        parts.append(_one_bucket(piece, start, count, width))
    rest = values[lead:]
    full = int(rest.size) // width
    base = start + lead
    if full:
        grid = rest[: full * width].reshape(full, width)
        offsets = base + np.arange(full, dtype=np.int64) * width
        low_arg, high_arg = np.argmin(grid, axis=1), np.argmax(grid, axis=1)
        rows = np.arange(full)
        parts.append(
            Envelope(
                count,
                width,
                0,
                grid[rows, low_arg].astype(np.float64),
                grid[rows, high_arg].astype(np.float64),
                offsets + low_arg,
                offsets + high_arg,
            )
        )
    if full * width < rest.size:
        parts.append(_one_bucket(rest[full * width :], base + full * width, count, width))
    return _concat(first, count, width, parts)


def _one_bucket(values: FloatArray, start: int, count: int, width: int) -> Envelope:
    low_arg, high_arg = int(np.argmin(values)), int(np.argmax(values))
    return Envelope(
        count,
        width,
        start // width,
        np.array([values[low_arg]], dtype=np.float64),
        np.array([values[high_arg]], dtype=np.float64),
        np.array([start + low_arg], dtype=np.int64),
        np.array([start + high_arg], dtype=np.int64),
    )


def merge_buckets(env: Envelope, factor: int) -> Envelope:
    """Merge every ``factor`` neighbouring buckets of a whole envelope (the earlier of equal
    minima or maxima wins, so indices stay those of the first occurrence)."""
    if factor == 1 or env.buckets == 0:
        return replace(env, width=env.width * factor)
    if env.first:
        raise ValueError("only a whole envelope can be merged")
    n = env.buckets
    padded = -(-n // factor) * factor
    pad = padded - n
    low = np.concatenate([env.low, np.full(pad, np.inf)]).reshape(-1, factor)
    high = np.concatenate([env.high, np.full(pad, -np.inf)]).reshape(-1, factor)
    low_at = np.concatenate([env.low_at, np.zeros(pad, dtype=np.int64)]).reshape(-1, factor)
    high_at = np.concatenate([env.high_at, np.zeros(pad, dtype=np.int64)]).reshape(-1, factor)
    rows = np.arange(padded // factor)
    low_arg, high_arg = np.argmin(low, axis=1), np.argmax(high, axis=1)
    return Envelope(
        env.count,
        env.width * factor,
        0,
        low[rows, low_arg].astype(np.float64),
        high[rows, high_arg].astype(np.float64),
        low_at[rows, low_arg].astype(np.int64),
        high_at[rows, high_arg].astype(np.int64),
    )


def extend(tail: Envelope, values: FloatArray) -> Envelope:
    """Append ``values`` to an envelope at its width: the buckets from ``tail.first`` on.

    ``tail`` is the whole envelope or a slice holding at least its last bucket when that one is
    partly filled (its minimum and maximum merge with those of the first new values: no stored loss
    is read again). The result may hold more than MAX_BUCKETS buckets: see :func:`canonical`.
    """
    if values.size == 0:
        return tail
    width = tail.width
    fresh = summarise(values, tail.count, width)
    count = fresh.count
    if tail.count % width == 0 or tail.buckets == 0:
        return _concat(tail.first, count, width, [tail, fresh])
    # The last held bucket and the first fresh one are the same bucket: merge them.
    a, b = tail.buckets - 1, 0
    low_from_tail = tail.low[a] <= fresh.low[b]
    high_from_tail = tail.high[a] >= fresh.high[b]
    joint = Envelope(
        count,
        width,
        0,
        np.array([tail.low[a] if low_from_tail else fresh.low[b]]),
        np.array([tail.high[a] if high_from_tail else fresh.high[b]]),
        np.array([tail.low_at[a] if low_from_tail else fresh.low_at[b]], dtype=np.int64),
        np.array([tail.high_at[a] if high_from_tail else fresh.high_at[b]], dtype=np.int64),
    )
    before = Envelope(count, width, 0, tail.low[:a], tail.high[:a], tail.low_at[:a], tail.high_at[:a])
    after = Envelope(count, width, 0, fresh.low[1:], fresh.high[1:], fresh.low_at[1:], fresh.high_at[1:])
    return _concat(tail.first, count, width, [before, joint, after])


def canonical(env: Envelope) -> Envelope:
    """A whole envelope at the width :func:`width_for` its count asks for."""
    return merge_buckets(env, max(1, width_for(env.count) // env.width))


def envelope_of(values: FloatArray) -> Envelope:
    """The canonical envelope of a whole sequence of losses."""
    return summarise(values, 0, width_for(int(values.size)))
