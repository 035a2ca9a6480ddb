"""Shared fixtures: an app on an in-memory store and an httpx client talking to it in process;
for the browser tests, a live server on loopback and Debian's Chromium (see tests/browser.py); for
the Redis tests, a real redis-server (see tests/redis_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Playwright, sync_playwright

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.train_pool import TrainingPool
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    Watched,
    open_context,
    require_chromium,
    serve,
)
from tests.redis_server import RedisServer, redis_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(ttl=3600.0, max_sessions=1000)


@pytest.fixture(scope="session")
def training_pool() -> Iterator[TrainingPool]:
    """One pool of training processes for every app of the run (each would start its own)."""
    pool = TrainingPool(2)
    yield pool
    pool.shutdown()


@pytest.fixture
def app(store: MemoryStore, training_pool: TrainingPool) -> FastAPI:
    return create_app(Settings(store="memory"), store=store, pool=training_pool)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# Module scope, not session: Playwright's sync API holds an event loop while it runs, which the
# async (anyio) tests of other modules must not meet.
@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    require_chromium()
    yield from serve()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    with sync_playwright() as handle:
        yield handle


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def watched(browser: Browser, live: LiveServer) -> Iterator[Watched]:
    """A page in a fresh context; fails the test on console errors or requests to another host."""
    w = open_context(browser, live)
    yield w
    w.context.close()
    assert w.errors == [], "console errors"
    assert w.foreign == [], "requests to another host"


@pytest.fixture
def no_js(browser: Browser, live: LiveServer) -> Iterator[Watched]:
    """The same with JavaScript disabled."""
    w = open_context(browser, live, java_script_enabled=False)
    yield w
    w.context.close()
    assert w.errors == []
    assert w.foreign == []


@pytest.fixture(scope="session")
def redis_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole run (skipped, or failed under CI=true, without one)."""
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as server:
        yield server


@pytest.fixture
def redis_url(redis_running: RedisServer) -> str:
    """The URL of an empty Redis database for this test."""
    with redis_running.client() as client:
        client.flushdb()
    return redis_running.url()
