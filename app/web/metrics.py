"""Prometheus metrics at ``/metrics``: requests by route template and status, their latency, live
sessions, running background runs and store errors. On unless ``BACKPROP_METRICS=0``.

With several worker processes each keeps its own numbers; ``backprop-viz --workers N`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, prometheus_client then
writes every worker's values there and any worker's ``/metrics`` adds them all up (a worker that
stops cleanly takes its running-runs gauge with it). Live sessions are the store's own count,
read when scraped, so they need no adding up.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.store import SessionStore, StoreBusyError
from app.web.logs import route_template

# prometheus_client.multiprocess has no annotations: its two functions used here, typed.
_add_up_workers = cast(Callable[[CollectorRegistry, str], object], MultiProcessCollector)
_forget_worker = cast(Callable[[int, str], None], mark_process_dead)

#: Exceptions that mean the session store failed (not that a session is missing): counted by type.
STORE_ERRORS: tuple[type[Exception], ...] = (StoreBusyError, sqlite3.Error)

#: Methods the app answers; any other is counted as "other" so a scanner cannot grow the label set.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Request durations in seconds: a step answers in a few milliseconds, an import of a large session
#: in about a second.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    """The folder every worker writes its values to, when several share one port."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """One app's metrics, in a registry of their own (so every ``create_app`` starts from zero)."""

    def __init__(self, store: Callable[[], SessionStore]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.store_errors = Counter(
            "backprop_store_errors",
            "Requests (and scrapes) that failed because the session store did, by exception type.",
            ("error",),
            registry=None,
        )
        # Collected first, so that a store error met while counting the sessions is in the same scrape.
        self.sessions = _Sessions(store, self.store_errors)
        self.registry.register(self.sessions)
        self.registry.register(self.store_errors)
        self.requests = Counter(
            "backprop_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "backprop_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.runs = Gauge(
            "backprop_training_runs_running",
            "Background training runs in progress (summed over live workers).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes: this process's values, or every worker's."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        combined.register(self.sessions)  # first, as above
        _add_up_workers(combined, directory)
        return generate_latest(combined)


class _Sessions(Collector):
    """``backprop_sessions``: the sessions the store keeps, asked when scraped."""

    def __init__(self, store: Callable[[], SessionStore], errors: Counter) -> None:
        self.store = store
        self.errors = errors

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("backprop_sessions", "Sessions the store keeps (expired ones may linger).")]

    def collect(self) -> Iterable[Metric]:
        try:
            count = self.store().count()
        except Exception as exc:  # whatever the backend raised, the scrape answers; the failure is counted
            self.errors.labels(type(exc).__name__).inc()
            return []
        return [
            GaugeMetricFamily(
                "backprop_sessions", "Sessions the store keeps (expired ones may linger).", count
            )
        ]


class _Observe:
    """ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped the app

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)


def _counting(handler: Callable[..., Any], errors: Counter) -> Callable[..., Any]:
    """``handler``, after counting the exception it handles if the store raised it."""

    async def counted(request: Request, exc: Exception) -> Any:
        if isinstance(exc, STORE_ERRORS):
            errors.labels(type(exc).__name__).inc()
        return await handler(request, exc)

    return counted


def _last_resort(handler: Callable[..., Any] | None, errors: Counter) -> Callable[..., Any]:
    """The 500 answer to an exception no handler took (called once, by the outermost middleware),
    counting it first if the store raised it."""

    async def answer(request: Request, exc: Exception) -> Any:
        if isinstance(exc, STORE_ERRORS):
            errors.labels(type(exc).__name__).inc()
        if handler is not None:
            return await handler(request, exc)
        return PlainTextResponse("Internal Server Error", status_code=500)

    return answer


def install(app: FastAPI) -> None:
    """Serve ``/metrics`` and count ``app``'s requests, unless its settings turn metrics off.

    Call last in ``create_app``: store errors are counted by wrapping the handlers already registered.
    """
    if not app.state.settings.metrics:
        return
    metrics = Metrics(lambda: app.state.store)
    app.state.metrics = metrics
    app.add_middleware(_Observe, metrics=metrics)
    for error, handler in list(app.exception_handlers.items()):
        # A handler of a store error, or of a kind of error store errors are (busy: 503).
        if isinstance(error, type) and any(
            issubclass(e, error) or issubclass(error, e) for e in STORE_ERRORS
        ):
            app.exception_handlers[error] = _counting(handler, metrics.store_errors)
    fallback = app.exception_handlers.get(Exception, app.exception_handlers.get(500))
    app.exception_handlers.pop(500, None)
    app.exception_handlers[Exception] = _last_resort(fallback, metrics.store_errors)
    app.state.runs.on_active_count = metrics.runs.set

    def scrape() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)

    directory = multiprocess_dir()
    if directory is not None:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
            async with inner(application) as state:
                yield state
            # This worker's running-runs gauge leaves the sum with it (a crash leaves it until restart).
            _forget_worker(os.getpid(), directory)

        app.router.lifespan_context = lifespan
