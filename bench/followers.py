"""Followers benchmark: many students following one presenter's session, on the real server.

Starts uvicorn (loopback, one worker, SQLite unless asked) and, for each count N, connects N
followers to one session's event stream (``GET /follow/<id>/events``, one connection each, as
browsers do), then takes steps through the API and times how long each step takes to reach the
first and the last follower (from just before the step is sent to the arrival of its event). It
reports the server's resident memory before and after the followers connect (so the memory per
follower), after they leave, and the latency of ``/healthz`` measured in the same run with no
followers and with N connected (the floor, and how much the followers cost everyone else).

Run from the repository root::

    python -m bench.followers                    # 1, 100 and 200 followers
    python -m bench.followers --followers 100 --steps 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.server import Server, serve

COUNTS = (1, 100, 200)
#: Target: a step reaches 100 followers within this many seconds.
TARGET_SECONDS = 1.0
#: Longest pause before a step. Random, so that steps fall anywhere in the server's polling cycle
#: (sent the moment the previous update arrives, every step would wait almost a whole cycle).
PAUSE_SECONDS = 0.4
MARKER = b"event: update"


def rss_kib(pid: int) -> int:
    """The process's resident memory, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@dataclass
class Follower:
    """One follower's stream: when each update arrived."""

    arrivals: list[float] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, http: httpx.AsyncClient, path: str) -> None:
        tail = b""
        async with http.stream("GET", path) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                seen = tail + chunk
                count = seen.count(MARKER)
                if count:
                    now = time.perf_counter()
                    self.arrivals.extend([now] * count)
                    self.changed.set()
                tail = seen[-(len(MARKER) - 1) :]

    async def until(self, updates: int) -> float:
        while len(self.arrivals) < updates:
            self.changed.clear()
            await self.changed.wait()
        return self.arrivals[updates - 1]


async def healthz_ms(http: httpx.AsyncClient, requests: int = 200) -> float:
    """Median latency of /healthz, one request at a time."""
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await http.get("/healthz")
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    return statistics.median(times) * 1000


@dataclass(frozen=True)
class Result:
    followers: int
    rss_before_kib: int
    rss_connected_kib: int
    rss_after_kib: int
    first_ms: list[float]
    all_ms: list[float]
    healthz_idle_ms: float
    healthz_followed_ms: float


async def measure(server: Server, followers: int, steps: int) -> Result:
    limits = httpx.Limits(max_connections=followers + 8, max_keepalive_connections=followers + 8)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as http:
        state = (await http.post("/api/sessions")).json()
        sid, events = state["id"], f"{state['follow_url']}/events"
        healthz_idle = await healthz_ms(http)
        before = rss_kib(server.pid)
        crowd = [Follower() for _ in range(followers)]
        tasks = [asyncio.create_task(f.follow(http, events)) for f in crowd]
        await asyncio.wait_for(asyncio.gather(*(f.until(1) for f in crowd)), 60)  # all connected
        connected = rss_kib(server.pid)
        healthz_followed = await healthz_ms(http)
        first, last = [], []
        pauses = random.Random(followers)
        for k in range(steps):
            await asyncio.sleep(pauses.uniform(0, PAUSE_SECONDS))
            sent = time.perf_counter()
            (await http.post(f"/api/sessions/{sid}/step")).raise_for_status()
            reached = await asyncio.wait_for(asyncio.gather(*(f.until(k + 2) for f in crowd)), 60)
            first.append((min(reached) - sent) * 1000)
            last.append((max(reached) - sent) * 1000)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2.0)  # the server notices the closed connections and lets them go
    return Result(
        followers,
        before,
        connected,
        rss_kib(server.pid),
        first,
        last,
        healthz_idle,
        healthz_followed,
    )


def report(results: list[Result], server: Server, steps: int) -> None:
    print(f"\nserver: uvicorn, {server.workers} worker, store {server.store}, loopback; {steps} steps each")
    print("step → follower: from just before POST /api/sessions/{id}/step to the event's arrival")
    print("(the server asks the store for changes every 200 ms: about 100 ms of each figure is that wait)")
    header = (
        f"{'followers':>9} | {'first p50':>9} | {'all p50':>8} | {'all max':>8} | {'RSS before':>10} | "
        f"{'connected':>10} | {'per follower':>12} | {'after leaving':>13} | {'healthz idle':>12} | "
        f"{'with followers':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        per = (r.rss_connected_kib - r.rss_before_kib) / r.followers
        first, every = statistics.median(r.first_ms), statistics.median(r.all_ms)
        print(
            f"{r.followers:>9} | {first:>7.0f}ms | {every:>6.0f}ms"
            f" | {max(r.all_ms):>6.0f}ms | {r.rss_before_kib / 1024:>7.1f}MiB | "
            f"{r.rss_connected_kib / 1024:>7.1f}MiB | {per:>9.1f}KiB | {r.rss_after_kib / 1024:>10.1f}MiB | "
            f"{r.healthz_idle_ms:>10.2f}ms | {r.healthz_followed_ms:>12.2f}ms"
        )
    hundred = [r for r in results if r.followers >= 100]
    if hundred:
        r = min(hundred, key=lambda result: result.followers)
        worst = max(r.all_ms) / 1000
        verdict = "MET" if worst < TARGET_SECONDS else "NOT MET"
        print(
            f"\ntarget: every step reaches all {r.followers} followers within {TARGET_SECONDS:.0f} s: "
            f"{verdict} (slowest of {len(r.all_ms)} steps: {worst:.2f} s)"
        )


async def run(counts: list[int], steps: int, store: str) -> None:
    with serve(store=store) as server:
        # Warm up: templates compiled, the hub and its threads started, before any memory is read.
        await measure(server, 1, 2)
        results = [await measure(server, n, steps) for n in counts]
    report(results, server, steps)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, nargs="+", default=list(COUNTS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    args = parser.parse_args()
    print(
        f"bench.followers: Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores"
    )
    asyncio.run(run(args.followers, args.steps, args.store))


if __name__ == "__main__":
    main()
