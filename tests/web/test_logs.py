"""Logs: an access line per request by route template, text or JSON lines, never a session id in clear."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.web import logs
from tests.processes import clean_environment, free_port, running
from tests.redis_server import wait_until

REPO = Path(__file__).resolve().parent.parent


def test_a_session_id_is_logged_as_12_hex_digits_of_its_sha256() -> None:
    assert logs.session_hash("abc") == "ba7816bf8f01"  # SHA-256("abc") = ba7816bf8f01cfea…
    assert logs.session_hash("Xy_-9" * 4) == hashlib.sha256(b"Xy_-9" * 4).hexdigest()[:12]


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("/api/sessions/abc/step", "/api/sessions/#ba7816bf8f01/step"),
        ("/api/sessions/abc", "/api/sessions/#ba7816bf8f01"),
        ("/api/sessions/abc?x=1", "/api/sessions/#ba7816bf8f01?x=1"),
        ('"POST /api/sessions/abc/runs HTTP/1.1"', '"POST /api/sessions/#ba7816bf8f01/runs HTTP/1.1"'),
        ("no session 'abc' (it may have expired)", "no session '#ba7816bf8f01' (it may have expired)"),
        ("/api/sessions", "/api/sessions"),
        ("/api/sessions/{session_id}/step", "/api/sessions/{session_id}/step"),
        ("/api/sessions/#ba7816bf8f01/step", "/api/sessions/#ba7816bf8f01/step"),
        ("/api/sessions/import", "/api/sessions/#" + logs.session_hash("import")),  # hashed all the same
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_scrub_hashes_the_ids_in_paths_and_messages(text: str, scrubbed: str) -> None:
    assert logs.scrub(text) == scrubbed


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The backprop.access logger, on, writing JSON lines to a buffer (as backprop-viz configures it)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("backprop.access")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield buffer
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.mark.anyio
async def test_access_lines_are_json_with_the_route_template_and_the_session_hashed(
    app: FastAPI, access_lines: io.StringIO
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        sid = (await http.post("/api/sessions")).json()["id"]
        await http.post(f"/api/sessions/{sid}/step?note=1")
        await http.get(f"/no/sessions/{sid}")
    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    assert sid not in access_lines.getvalue()
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "method", "route", "status", "duration_ms"}
        assert line["level"] == "info" and line["logger"] == "backprop.access"
        assert line["client"] == "127.0.0.1"
        assert line["time"].endswith("+00:00")
        assert line["duration_ms"] >= 0
    brief = [
        (line["method"], line["route"], line["status"], line.get("session"), line.get("path"))
        for line in lines
    ]
    hashed = logs.session_hash(sid)
    assert brief == [
        ("POST", "/api/sessions", 201, None, None),
        ("POST", "/api/sessions/{session_id}/step", 200, hashed, None),
        ("GET", "unmatched", 404, None, f"/no/sessions/#{hashed}"),
    ]
    step = '127.0.0.1 - "POST /api/sessions/{session_id}/step" 200'
    assert lines[1]["message"] == f"{step} {lines[1]['duration_ms']:.1f} ms session=#{hashed}"


def test_an_error_line_keeps_its_traceback_scrubbed() -> None:
    try:
        raise LookupError("no session 'abc' (it may have expired or been deleted)")
    except LookupError:
        record = logging.getLogger("uvicorn.error").makeRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", (), sys.exc_info()
        )
    line = json.loads(logs.JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["message"]) == (
        "error",
        "uvicorn.error",
        "Exception in ASGI application",
    )
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith(
        "LookupError: no session '#ba7816bf8f01' (it may have expired or been deleted)"
    )


def test_the_text_formatter_scrubs_too() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.WARNING, __file__, 1, "gone: /api/sessions/abc", (), None
    )
    formatter = logs.TextFormatter(fmt="%(levelprefix)s %(message)s", use_colors=False)
    assert formatter.format(record) == "WARNING:  gone: /api/sessions/#ba7816bf8f01"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_command_logs_every_request_without_a_session_id(log_format: str, tmp_path: Path) -> None:
    port = free_port()
    env = clean_environment(BACKPROP_STORE="memory", BACKPROP_LOG_FORMAT=log_format, BACKPROP_PORT=str(port))
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-c", "from app.cli import main; main()"]
    with running(command, port, env, tmp_path, tmp_path / "server.log") as http:
        sid = http.post("/api/sessions").json()["id"]
        assert http.post(f"/api/sessions/{sid}/step").status_code == 200
    text = (tmp_path / "server.log").read_text()
    assert sid not in text
    hashed = logs.session_hash(sid)
    if log_format == "json":
        lines = [json.loads(line) for line in text.splitlines()]
        access = [
            (line["method"], line["route"], line["status"], line.get("session"))
            for line in lines
            if "route" in line
        ]
        assert access[-2:] == [
            ("POST", "/api/sessions", 201, None),
            ("POST", "/api/sessions/{session_id}/step", 200, hashed),
        ]
        assert {line["logger"] for line in lines} == {"uvicorn.error", "backprop.access"}
    else:
        assert 'INFO:     127.0.0.1 - "POST /api/sessions/{session_id}/step" 200 ' in text
        assert f" ms session=#{hashed}\n" in text
        assert "HTTP/1.1" not in text  # uvicorn's own access log (raw paths) is off


def test_a_client_that_stops_mid_body_is_logged_as_499_without_a_traceback(tmp_path: Path) -> None:
    """As wrk does when it stops: a form announced as 1,000 bytes, 10 sent, the connection closed.
    The server logs one access line (499), no "Exception in ASGI application", no 500."""
    port = free_port()
    env = clean_environment(BACKPROP_STORE="memory", BACKPROP_LOG_FORMAT="json", BACKPROP_PORT=str(port))
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-c", "from app.cli import main; main()"]
    log = tmp_path / "server.log"
    with running(command, port, env, tmp_path, log):
        for path in ("/page/sample", "/page/forward"):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                )
                raw.sendall(head.encode() + b"x1=0.5&t1=")

        def statuses() -> list[tuple[str, int]]:
            lines = [json.loads(line) for line in log.read_text().splitlines()]
            return [
                (line["route"], line["status"]) for line in lines if line.get("route", "").startswith("/page")
            ]

        wait_until(lambda: len(statuses()) == 2, 30, "the two requests to be logged")
    assert sorted(statuses()) == [("/page/sample", 499), ("/page/{action}", 499)]
    text = log.read_text()
    assert "Traceback" not in text and "Exception in ASGI application" not in text
