"""A small pool of threads for the short, frequent work on a session: a step, a read, a watch.

A sync route runs in Starlette's shared pool (40 threads). Under load, dozens of step requests then
run at once and convoy on the GIL and on the store's locks; a few threads do the same work sooner
(measured with bench/load.py: the JSON step's throughput rose from 0.23× to about 0.31× the
/healthz floor, its p99 fell from about 50 to 30 ms). Long work (a large import, training) stays in
the shared pool, so it never takes these threads from the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

#: Threads for short session work: enough to keep a core busy while another waits on SQLite.
QUICK_THREADS = 4

P = ParamSpec("P")
R = TypeVar("R")

_limiter: anyio.CapacityLimiter | None = None


def _quick_limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(QUICK_THREADS)
    return _limiter


async def run_quick(work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``work(*args, **kwargs)`` in one of the quick threads."""

    def call() -> R:
        return work(*args, **kwargs)

    return await anyio.to_thread.run_sync(call, limiter=_quick_limiter())
