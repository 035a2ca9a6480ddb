"""Benchmark the loss chart: ``chart.build`` beside a naive polyline of every point.

Both sides start from what the page has, a session's ``loss_history`` (a tuple of Python floats),
and produce the SVG ``points`` text. The naive baseline scales every loss with numpy and formats a
vertex per update; ``chart.build`` downsamples to at most 600 vertices (min-max envelope) and also
computes the ticks and labels. Each figure is the median of a few runs in the same process.

Run from the repository root::

    python -m bench.bench_chart
"""

from __future__ import annotations

import functools
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from app import chart

SIZES = (100_000, 1_000_000)
REPEATS = 5


def losses(n: int) -> tuple[float, ...]:
    """A falling, noisy loss curve with one spike, as a session holds it."""
    rng = np.random.default_rng(0)
    values = np.exp(-np.linspace(0.0, 8.0, n)) * (1.0 + 0.3 * rng.random(n))
    values[n // 2] = 5.0
    return tuple(values.tolist())


def naive_points(history: tuple[float, ...]) -> str:
    """Every point as a polyline vertex, on the same plot area and linear axis."""
    values = np.asarray(history, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    left, top = chart.MARGIN_LEFT, chart.MARGIN_TOP
    right, bottom = chart.WIDTH - chart.MARGIN_RIGHT, chart.HEIGHT - chart.MARGIN_BOTTOM
    xs = left + np.arange(values.size) / max(values.size - 1, 1) * (right - left)
    ys = bottom - (values - low) / (high - low) * (bottom - top)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))


def median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    print(f"bench_chart: Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"median of {REPEATS} runs; input: a tuple of floats (as session.loss_history)\n")
    header = (
        f"{'points':>10} | {'chart.build ms':>14} | {'naive ms':>9} | {'speed-up':>8} | "
        f"{'vertices':>8} | {'naive vertices':>14} | {'chart bytes':>11} | {'naive bytes':>11}"
    )
    print(header)
    print("-" * len(header))
    for n in SIZES:
        history = losses(n)
        built = chart.build(history)
        naive = naive_points(history)
        fast = median_seconds(functools.partial(chart.build, history))
        slow = median_seconds(functools.partial(naive_points, history))
        print(
            f"{n:>10,} | {fast * 1000:>14.1f} | {slow * 1000:>9.1f} | {slow / fast:>7.1f}x | "
            f"{built.point_count:>8} | {n:>14,} | {len(built.points):>11,} | {len(naive):>11,}"
        )


if __name__ == "__main__":
    main()
