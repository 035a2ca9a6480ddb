"""Helpers for the browser tests: a live server on loopback and Debian's Chromium via Playwright.

Playwright's own browser download cannot work here, so the tests drive ``/usr/bin/chromium``.
Without it they are skipped with a reason, except under ``CI=true``, where a skip is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore

CHROMIUM = os.environ.get("BACKPROP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def require_chromium() -> None:
    """Skip (or, under CI=true, fail) when Chromium is not installed."""
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    reason = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true a skipped browser test is a failure")
    pytest.skip(reason)


@dataclass
class LiveServer:
    """The app served by uvicorn on a free loopback port, in a thread of this process."""

    url: str
    store: MemoryStore
    server: uvicorn.Server
    thread: threading.Thread
    hosts_seen: set[str] = field(default_factory=set)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


def start_server(store: MemoryStore | None = None) -> LiveServer:
    store = store or MemoryStore(ttl=3600.0, max_sessions=1000)
    app = create_app(Settings(store="memory"), store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", store, server, thread)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)


def serve() -> Iterator[LiveServer]:
    live = start_server()
    try:
        yield live
    finally:
        stop_server(live)


class Watched:
    """A browser context whose console errors and off-host requests are recorded."""

    def __init__(self, context: BrowserContext, live: LiveServer) -> None:
        self.context = context
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.live = live
        context.on("request", self._request)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _request(self, request: Request) -> None:
        if urlsplit(request.url).netloc != self.live.host and not request.url.startswith(("data:", "about:")):
            self.foreign.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")


def open_context(browser: Browser, live: LiveServer, **options: Any) -> Watched:
    """A fresh context (so a fresh session cookie) at 1280×720 unless told otherwise."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 720}, **options})
    return Watched(context, live)


def api_state(w: Watched) -> dict[str, Any]:
    """The API's state of the session the page shows."""
    sid = w.page.get_attribute("main", "data-session-id")
    response = w.context.request.get(f"{w.live.url}/api/sessions/{sid}")
    assert response.ok
    state: dict[str, Any] = response.json()
    return state


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
