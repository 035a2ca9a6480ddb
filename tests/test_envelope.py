"""The loss envelope (app/envelope.py) against brute force: bucket by bucket with Python's min and max."""

from __future__ import annotations

import numpy as np
import pytest

from app.envelope import Envelope, envelope_of, merge_buckets, summarise, width_for
from app.limits import MAX_BUCKETS


def brute_envelope(values: np.ndarray, width: int) -> Envelope:
    """Bucket by bucket with Python's min and max (first occurrence), the obvious way."""
    low, high, low_at, high_at = [], [], [], []
    for start in range(0, len(values), width):
        bucket = values[start : start + width].tolist()
        lo, hi = min(bucket), max(bucket)
        low.append(lo)
        high.append(hi)
        low_at.append(start + bucket.index(lo))
        high_at.append(start + bucket.index(hi))
    return Envelope(
        len(values),
        width,
        0,
        np.array(low, dtype=np.float64),
        np.array(high, dtype=np.float64),
        np.array(low_at, dtype=np.int64),
        np.array(high_at, dtype=np.int64),
    )


def noisy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Repeated values too, so ties between first occurrences are exercised.
    return np.round(rng.random(n) * 10, 1) + np.linspace(5, 0, n)


@pytest.mark.parametrize("n", [0, 1, 2, 1023, 1024, 1025, 2048, 2049, 5000, 70_001])
def test_the_envelope_is_the_bucketwise_min_and_max(n: int) -> None:
    values = noisy(n)
    width = width_for(n)
    assert -(-n // width) <= MAX_BUCKETS
    assert width == 1 or -(-n // (width // 2)) > MAX_BUCKETS  # the smallest such power of two
    assert envelope_of(values).same_as(brute_envelope(values, width))


def test_width_for() -> None:
    assert [width_for(n) for n in (0, 1, 1024, 1025, 2048, 2049, 2_000_000)] == [1, 1, 1, 2, 2, 4, 2048]


@pytest.mark.parametrize("start", [0, 3, 7, 8, 13])
def test_summarise_a_slice_that_starts_inside_a_bucket(start: int) -> None:
    values = noisy(40, seed=start)
    part = summarise(values[start:], start, 8)
    whole = brute_envelope(values, 8)
    assert part.first == start // 8
    # Every bucket but the first one of the slice (which holds only part of its bucket) agrees.
    skip = 1 if start % 8 else 0
    assert np.array_equal(part.low[skip:], whole.low[part.first + skip :])
    assert np.array_equal(part.high_at[skip:], whole.high_at[part.first + skip :])


def test_merge_buckets_equals_summarising_at_the_wider_width() -> None:
    values = noisy(3000, seed=4)
    narrow = summarise(values, 0, 4)
    assert merge_buckets(narrow, 8).same_as(brute_envelope(values, 32))
    assert narrow.grouped(100).buckets <= 100
    assert narrow.grouped(100).same_as(brute_envelope(values, 32))


def test_points_keep_every_spike_in_order() -> None:
    values = noisy(50_000, seed=2)
    values[12_345] = 99.0
    values[40_000] = -99.0
    indices, points = envelope_of(values).grouped(299).points()
    assert np.all(np.diff(indices) > 0)
    assert 12_345 in indices.tolist() and 40_000 in indices.tolist()
    assert np.array_equal(points, values[indices])
    assert indices.size <= 2 * 299
