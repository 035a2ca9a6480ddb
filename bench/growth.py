"""Growth benchmark: does a step cost more after a long history? Fresh against trained, interleaved.

Starts the real server (uvicorn, one worker, loopback, SQLite store), trains sessions to 1,000,
10,000 and 100,000 updates, and then times single requests one after another — a fresh session and
a trained one alternating, so both meet the same machine load — for:

- the JSON step (``POST /api/sessions/{id}/step``), and
- the page's Step as htmx sends it (``POST /page/step``), with the Train tab open (the loss chart
  is redrawn with every step) and with the default Working tab.

It prints the median per request for each, their ratio to a fresh session's, and the size of the
session's state (the body of ``GET /api/sessions/{id}``). Target: after 100,000 updates each
median is at most 1.3× a fresh session's, and the 2-3-2 state is at most 10 KB.

Run from the repository root::

    python -m bench.growth
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import httpx

from bench.server import serve

SIZES = (1_000, 10_000, 100_000)
COOKIE = "bpv_session"
TARGET_RATIO = 1.3
TARGET_STATE_BYTES = 10_000


def timed(request: Callable[[], httpx.Response]) -> float:
    began = time.perf_counter()
    response = request()
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="per session and kind (interleaved)")
    args = parser.parse_args()
    print(f"bench.growth: Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print("server: uvicorn, 1 worker, SQLite store, loopback; one client, requests one at a time\n")
    with serve() as server, httpx.Client(base_url=server.url, timeout=600.0) as http:

        def session(updates: int) -> str:
            sid: str = http.post("/api/sessions").json()["id"]
            if updates:
                http.post(f"/api/sessions/{sid}/train", json={"epochs": updates}).raise_for_status()
            return sid

        def json_step(sid: str) -> Callable[[], httpx.Response]:
            return lambda: http.post(f"/api/sessions/{sid}/step")

        def page_step(sid: str, tab: str) -> Callable[[], httpx.Response]:
            return lambda: http.post(
                "/page/step",
                data={"tab": tab},
                headers={"HX-Request": "true", "BPV-Orientation": "landscape", "Cookie": f"{COOKIE}={sid}"},
            )

        kinds: dict[str, Callable[[str], Callable[[], httpx.Response]]] = {
            "JSON step": json_step,
            "page Step (Working tab)": lambda sid: page_step(sid, "work"),
            "page Step (Train tab)": lambda sid: page_step(sid, "train"),
        }
        header = (
            f"{'request':<26} {'updates':>8} {'fresh ms':>9} {'trained ms':>11} {'ratio':>6} {'target':>7}"
        )
        print(header)
        print("-" * len(header))
        sizes: list[tuple[int, int]] = []
        verdicts: list[str] = []
        for updates in SIZES:
            trained = session(updates)
            sizes.append((updates, len(http.get(f"/api/sessions/{trained}").content)))
            for name, make in kinds.items():
                fresh = session(0)
                old, new = make(trained), make(fresh)
                for _ in range(20):  # warm-up
                    old(), new()
                fresh_times, old_times = [], []
                for _ in range(args.requests):
                    fresh_times.append(timed(new))
                    old_times.append(timed(old))
                f, o = statistics.median(fresh_times) * 1000, statistics.median(old_times) * 1000
                ratio = o / f
                met = "MET" if ratio <= TARGET_RATIO else "NOT MET"
                shown = met if updates == SIZES[-1] else ""
                print(f"{name:<26} {updates:>8,} {f:>9.2f} {o:>11.2f} {ratio:>5.2f}× {shown:>7}")
                if updates == SIZES[-1]:
                    verdicts.append(
                        f"  {name} after {updates:,} updates: ≤ {TARGET_RATIO}× fresh: {met} ({ratio:.2f}×)"
                    )
        fresh_size = len(http.get(f"/api/sessions/{session(0)}").content)
        print(f"\nstate size (GET /api/sessions/{{id}}): fresh {fresh_size:,} bytes")
        for updates, size in sizes:
            print(f"  after {updates:>7,} updates: {size:,} bytes")
        largest = max(size for _, size in sizes)
        state_met = "MET" if max(largest, fresh_size) <= TARGET_STATE_BYTES else "NOT MET"
        verdicts.append(f"  2-3-2 state ≤ {TARGET_STATE_BYTES:,} bytes: {state_met} (largest {largest:,})")
    print("\ntargets:")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
