"""Load benchmark: the real server under a bounded load generator (wrk), endpoint by endpoint.

Starts uvicorn (loopback, SQLite store by default, one worker unless asked) and drives it with
Debian's ``wrk`` (installed by bench/setup when missing) at 16 and 100 concurrent connections. Each
endpoint is measured in the same run as ``/healthz``, the do-nothing floor, and reported as a
ratio to it:

- ``healthz``: the floor;
- ``json step``: ``POST /api/sessions/{id}/step``;
- ``page step``: the page's Step button as htmx sends it (``POST /page/step``, ``HX-Request``, and
  the drawing a desktop screen shows, ``BPV-Orientation: landscape``, which the page's script adds);
- ``watch 204``: a page's poll when nothing changed (``GET /page/watch?v=…``);
- ``first page``: ``GET /`` without a cookie (what a new visitor, or a crawler, asks for).

There are as many sessions as connections; each request takes the next session in turn, so at any
moment about one request is in flight per session, as with one client per session.

Run from the repository root::

    python -m bench.load                       # one worker, SQLite
    python -m bench.load --workers 2           # two workers on one SQLite file
    python -m bench.load --store redis         # a Redis server started for the run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.server import Server, ensure, free_port, serve

CLIENTS = (16, 100)
TARGETS = {"json step": 0.35, "page step": 0.12, "watch 204": 0.5}
COOKIE = "bpv_session"


@dataclass(frozen=True)
class Result:
    endpoint: str
    clients: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def lua(ids: list[str], method: str, path: str, headers: dict[str, str], body: str = "") -> str:
    """A wrk script sending ``method path`` for each session in turn (``{id}`` and ``{v}`` are
    replaced by the session's id and its page's watch version: entries "id" or "id|version")."""
    entries = ", ".join(f'{{"{sid}", "{v}"}}' for sid, _, v in (i.partition("|") for i in ids))
    header_lines = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    return f"""
local sessions = {{ {entries} }}
local n = 0
request = function()
  n = n + 1
  local s = sessions[(n % #sessions) + 1]
  local path = string.gsub(string.gsub("{path}", "{{id}}", s[1]), "{{v}}", s[2])
  local headers = {{ {header_lines} }}
  if headers["Cookie"] then headers["Cookie"] = string.gsub(headers["Cookie"], "{{id}}", s[1]) end
  return wrk.format("{method}", path, headers, "{body}")
end
"""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, script: str, clients: int, seconds: int) -> tuple[float, float, float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            [
                ensure("wrk"),
                "-t1",
                f"-c{clients}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(g) for g in match.groups())
    return rate, p50, p99, errors


def prepare_sessions(server: Server, count: int) -> list[str]:
    """``count`` new sessions' ids."""
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        return [http.post("/api/sessions").json()["id"] for _ in range(count)]


def with_versions(server: Server, ids: list[str]) -> list[str]:
    """Each session as "id|watch version": the fingerprint its page shows now (read just before
    the watch is measured, after the steps before it changed every session)."""
    found = []
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        for sid in ids:
            page = http.get("/", cookies={COOKIE: sid}).text
            match = re.search(r"/page/watch\?v=([^\"&]+)", page)
            if match is None:
                raise RuntimeError("the page has no watch element")
            found.append(f"{sid}|{match.group(1)}")
    return found


def measure(server: Server, clients: int, seconds: int) -> list[Result]:
    ids = prepare_sessions(server, clients)
    page_headers = {
        "Cookie": f"{COOKIE}={{id}}",
        "HX-Request": "true",
        "BPV-Orientation": "landscape",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    watch_headers = {"Cookie": page_headers["Cookie"], "HX-Request": "true", "BPV-Orientation": "landscape"}
    scripts: dict[str, Callable[[], str]] = {
        "healthz": lambda: lua(ids, "GET", "/healthz", {}),
        "json step": lambda: lua(ids, "POST", "/api/sessions/{id}/step", {"Content-Length": "0"}),
        "page step": lambda: lua(ids, "POST", "/page/step", page_headers),
        "watch 204": lambda: lua(with_versions(server, ids), "GET", "/page/watch?v={v}", watch_headers),
        "first page": lambda: lua(ids, "GET", "/", {}),
    }
    results = []
    for name, script in scripts.items():
        rate, p50, p99, errors = run_wrk(server.url, script(), clients, seconds)
        results.append(Result(name, clients, rate, p50, p99, errors))
        settle(server)
    return results


def settle(server: Server) -> None:
    """Wait until the requests wrk left in flight are done: the server answers /healthz at once,
    five times in a row (else the next endpoint would meet their backlog, and the watch would find
    every session changed after its version was read)."""
    quick = 0
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        while quick < 5:
            began = time.perf_counter()
            http.get("/healthz")
            quick = quick + 1 if time.perf_counter() - began < 0.02 else 0


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port."""
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="bpv-redis-"))
    process = subprocess.Popen(
        [
            ensure("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def report(results: list[Result], server: Server) -> None:
    print(f"\nserver: uvicorn, {server.workers} worker(s), store {server.store}, loopback")
    names = ("req/s", "p50 ms", "p99 ms", "errors", "× floor")
    header = f"{'endpoint':<11} {'clients':>7} " + " ".join(f"{n:>8}" for n in names)
    print(header)
    print("-" * len(header))
    floors = {r.clients: r.requests_per_second for r in results if r.endpoint == "healthz"}
    verdicts = []
    for r in results:
        ratio = r.requests_per_second / floors[r.clients]
        print(
            f"{r.endpoint:<11} {r.clients:>7} {r.requests_per_second:>9.0f} {r.p50_ms:>8.1f} "
            f"{r.p99_ms:>8.1f} {r.errors:>7} {ratio:>7.2f}×"
        )
        if r.endpoint in TARGETS:
            met = ratio >= TARGETS[r.endpoint] and r.errors == 0
            verdicts.append(
                f"  {r.endpoint} at {r.clients} clients: ≥ {TARGETS[r.endpoint]:.2f}× the floor, no errors: "
                f"{'MET' if met else 'NOT MET'} ({ratio:.2f}×, {r.errors} errors)"
            )
    print("\ntargets:")
    print("\n".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--store", choices=["sqlite", "memory", "redis"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=10, help="per endpoint and client count")
    parser.add_argument("--clients", type=int, nargs="+", default=list(CLIENTS))
    args = parser.parse_args()
    print(f"bench.load: Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(redis_server()) if args.store == "redis" else args.store
        server = stack.enter_context(serve(workers=args.workers, store=store))
        results = [r for clients in args.clients for r in measure(server, clients, args.seconds)]
    report(results, Server(server.url, server.workers, args.store))


if __name__ == "__main__":
    main()
