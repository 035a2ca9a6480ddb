"""A server started as its own process (the installed command, ``backprop-viz`` with workers), for the
tests that need a real one: waits until it answers, stops it after, shows its output if it dies."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Longest a server process may take to answer /healthz after it is started.
START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without the app's settings or a metrics folder, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKPROP_", "PROMETHEUS_"))}
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return {**env, **extra}


@dataclass
class Server:
    """A started server process and a client for it."""

    process: subprocess.Popen[bytes]
    http: httpx.Client


@contextmanager
def started(command: Sequence[str], port: int, env: dict[str, str], cwd: Path, log: Path) -> Iterator[Server]:
    """``command`` running until the block ends (unless the test kills it first), and a client for
    it once ``/healthz`` answers 200. Its output goes to ``log`` (read it after the block)."""
    with log.open("wb") as output:
        server = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
            deadline = time.monotonic() + START_SECONDS
            while True:
                assert server.poll() is None, log.read_text()
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"the server did not answer within {START_SECONDS} s"
                time.sleep(0.05)
            yield Server(server, http)
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def running(
    command: Sequence[str], port: int, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[httpx.Client]:
    """``command`` running until the block ends, and a client for it once ``/healthz`` answers 200.
    Its output goes to ``log`` (read it after the block: the process has stopped by then)."""
    with started(command, port, env, cwd, log) as server:
        yield server.http
