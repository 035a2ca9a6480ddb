"""Hostile JSON bodies against the real server: /healthz latency while clients send bodies of
hundreds of thousands of wrongly typed items, beside /healthz on the idle server in the same run.

Issue 10 measured, before strict and bounded validation: a 2 MB body of 500,000 wrongly typed
items took 20 s and froze /healthz for 17 s. Each body here is refused at once (its list is longer
than the schema allows), with at most 20 errors in the answer. The bodies: 2.5 MB (500,000 items),
3.75 MB (750,000 items: near the most the API reads, 4 MiB) and 5 MB (a million items: refused
unread, 413).

Run from the repository root::

    python -m bench.hostile_bodies
"""

from __future__ import annotations

import json
import platform
import statistics
import threading
import time

import httpx

from bench.server import serve

PROBES = 200
SENDERS = 4
BODIES_EACH = 10


def body_of(items: int) -> bytes:
    return json.dumps({"dataset": {"inputs": ["x"] * items, "targets": [[1.0]]}}).encode()


def probe(url: str, stop: threading.Event | None = None) -> list[float]:
    """Milliseconds of each /healthz, PROBES of them (or until ``stop``)."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=120.0) as http:
        while len(times) < PROBES and not (stop is not None and stop.is_set()):
            start = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            times.append((time.perf_counter() - start) * 1000)
    return times


def flood(url: str, body: bytes, answers: list[tuple[int, int, float]]) -> None:
    with httpx.Client(base_url=url, timeout=120.0) as http:
        for _ in range(BODIES_EACH):
            start = time.perf_counter()
            response = http.post("/api/sessions", content=body, headers={"content-type": "application/json"})
            answers.append((response.status_code, len(response.content), time.perf_counter() - start))


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"{name:<44} {len(times):>6} {statistics.median(times):>10.2f} {p95:>10.2f} {max(times):>10.2f}"


def main() -> None:
    print("bench.hostile_bodies: /healthz while hostile bodies arrive (one uvicorn worker, memory store)")
    print(
        f"python {platform.python_version()}, {platform.machine()}; {SENDERS} senders × {BODIES_EACH} bodies"
    )
    with serve(store="memory") as server:
        print(f"\n{'':<44} {'probes':>6} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
        print(summary("healthz, idle (baseline)", probe(server.url)))
        for items in (500_000, 750_000, 1_000_000):
            body = body_of(items)
            answers: list[tuple[int, int, float]] = []
            stop = threading.Event()
            senders = [
                threading.Thread(target=flood, args=(server.url, body, answers)) for _ in range(SENDERS)
            ]
            for sender in senders:
                sender.start()
            probed: list[float] = []
            watcher = threading.Thread(
                target=lambda into, until: into.extend(probe(server.url, until)), args=(probed, stop)
            )
            watcher.start()
            for sender in senders:
                sender.join()
            stop.set()
            watcher.join()
            label = f"healthz, {len(body) / 1e6:.1f} MB bodies ({items:,} items)"
            print(summary(label, probed))
            statuses = sorted({status for status, _, _ in answers})
            biggest = max(size for _, size, _ in answers)
            slowest = max(seconds for _, _, seconds in answers)
            print(f"{'':<44} answers {statuses}, largest {biggest} bytes, slowest {slowest * 1000:.0f} ms")


if __name__ == "__main__":
    main()
