"""Start the real server for a benchmark: uvicorn on a free loopback port, its own data directory.

Used by bench/load.py and bench/growth.py. The server runs as a separate process (as in
production), so the load generator and the server do not share a GIL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    workers: int
    store: str
    #: The server's process id (with one worker, the process that serves).
    pid: int = 0


@contextlib.contextmanager
def serve(*, workers: int = 1, store: str = "sqlite", env: dict[str, str] | None = None) -> Iterator[Server]:
    """The app under uvicorn (``workers`` processes) on a fresh data directory; stopped on exit."""
    data = Path(tempfile.mkdtemp(prefix="bpv-bench-"))
    port = free_port()
    environment = {
        **os.environ,
        "BACKPROP_STORE": store,
        "BACKPROP_DATA_DIR": str(data),
        "BACKPROP_MAX_SESSIONS": "100000",
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield Server(url, workers, store, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data, ignore_errors=True)


def ensure(command: str) -> str:
    """The path of a Debian tool the benchmarks need, installing it (bench/setup) when missing."""
    found = shutil.which(command)
    if found is None:
        subprocess.run(["bash", str(ROOT / "bench" / "setup")], check=True)
        found = shutil.which(command)
    if found is None:
        raise RuntimeError(f"{command} is not installed and bench/setup could not install it")
    return found
