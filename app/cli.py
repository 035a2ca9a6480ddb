"""``backprop-viz``: serve the app, or check that a server answers (a container's health check).

Host, port and workers default to ``BACKPROP_HOST``, ``BACKPROP_PORT`` and ``BACKPROP_WORKERS`` (see
:mod:`app.settings`), so an image's ``CMD`` and ``HEALTHCHECK`` follow one variable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from app.settings import Settings, SettingsError

#: The variable prometheus_client reads, when its module is first imported, to add up workers.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="backprop-viz", description="Serve the Backprop Visualizer.")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        parser.error(str(exc))
    parser.add_argument(
        "command",
        nargs="?",
        choices=("serve", "healthcheck"),
        default="serve",
        help="serve (default), or healthcheck: exit 0 if the server on --port answers /healthz, else 1",
    )
    parser.add_argument(
        "--host", default=settings.host, help=f"interface to listen on (BACKPROP_HOST, now {settings.host})"
    )
    parser.add_argument(
        "--port", type=int, default=settings.port, help=f"port (BACKPROP_PORT, now {settings.port})"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=settings.workers,
        help=f"server processes (BACKPROP_WORKERS, now {settings.workers}); "
        "more than one needs the sqlite store, whose file they share",
    )
    args = parser.parse_args(argv)
    if args.command == "healthcheck":
        sys.exit(healthcheck(args.host, args.port))
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: at least 1")
    serve(settings, args.host, args.port, args.workers)


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run uvicorn on ``app.main:app`` with the app's logging (uvicorn's access log off: it logs raw
    paths, session ids included; the app logs each request itself)."""
    # Imported here, not at the top: the health check, run every few seconds, needs neither.
    import uvicorn

    from app.web.logs import uvicorn_log_config

    with _metrics_shared_by(workers if settings.metrics else 1):
        uvicorn.run(
            "app.main:app",
            host=host,
            port=port,
            workers=workers,
            log_config=uvicorn_log_config(settings.log_format),
            access_log=False,
            # The client's address is the app's to find (BACKPROP_TRUSTED_PROXIES), not uvicorn's,
            # which by default believes any X-Forwarded-For sent from the same host.
            proxy_headers=False,
        )


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, a folder for prometheus_client to add up their metrics in: the one
    ``PROMETHEUS_MULTIPROC_DIR`` names (emptied of an earlier run's values), else a fresh one that
    goes when the server stops. The workers inherit the variable."""
    if workers <= 1:
        yield
        return
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    directory = tempfile.mkdtemp(prefix="backprop-viz-metrics-")
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)


def healthcheck(host: str, port: int, timeout: float = 5.0) -> int:
    """0 if ``GET /healthz`` on the server answers 200 within ``timeout`` seconds, else 1 (and why)."""
    address = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://[{address}]:{port}/healthz" if ":" in address else f"http://{address}:{port}/healthz"
    # No proxy: an HTTP_PROXY set for the container must not carry a check of the container itself.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status = int(response.status)
    except (OSError, ValueError) as exc:  # refused, timed out, an error status (HTTPError), a bad host
        print(f"backprop-viz healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"backprop-viz healthcheck: {url}: status {status}", file=sys.stderr)
        return 1
    return 0
