"""A real Redis for the tests: Debian's ``redis-server`` on a free loopback port, in a folder of the
test's, stopped afterwards. Without it the tests that need it are skipped with a reason, except under
``CI=true``, where a skip is a failure (``.ci/run`` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.processes import free_port

REDIS_SERVER = os.environ.get("BACKPROP_REDIS_SERVER", "redis-server")
#: Longest the server may take to answer PING after it is started.
START_SECONDS = 30.0


def require_redis_server() -> str:
    """The redis-server command; skip (or, under CI=true, fail) when it is not installed."""
    found = shutil.which(REDIS_SERVER)
    if found:
        return found
    reason = f"these tests need a real Redis: {REDIS_SERVER} not found (apt-get install redis-server)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true a skipped Redis test is a failure")
    pytest.skip(reason)


@dataclass
class RedisServer:
    """A running redis-server and where it keeps its files."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


@contextmanager
def redis_server(folder: Path, *, durable: bool = False) -> Iterator[RedisServer]:
    """redis-server on a free loopback port until the block ends. ``durable``: an append-only file
    written before each reply (``appendfsync always``), so a restart in the same folder loses nothing
    acknowledged; else nothing is written to disk."""
    binary = require_redis_server()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--save",
        "",
        *persistence,
        "--daemonize",
        "no",
        "--logfile",
        str(folder / "redis.log"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = RedisServer(port, folder, process)
    probe = server.client()

    def answers() -> bool:
        log = folder / "redis.log"
        assert process.poll() is None, log.read_text() if log.exists() else "redis-server exited"
        try:
            return bool(probe.ping())
        except redis.exceptions.ConnectionError:
            return False

    try:
        wait_until(answers, START_SECONDS, "redis-server to answer PING")
        yield server
    finally:
        probe.close()
        process.terminate()
        process.wait(timeout=30)
