"""The backprop-viz command: serve with the settings' host, port, workers and logging; healthcheck."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.web.logs import uvicorn_log_config
from tests.browser import start_server, stop_server


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What uvicorn.run was called with (it is not run), and PROMETHEUS_MULTIPROC_DIR at the time."""
    calls: list[dict[str, Any]] = []

    def run(target: str, **options: Any) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        listing = sorted(p.name for p in Path(directory).iterdir()) if directory else None
        calls.append({"target": target, **options, "multiproc_dir": directory, "listing": listing})

    monkeypatch.setattr("uvicorn.run", run)
    for name in (
        "BACKPROP_HOST",
        "BACKPROP_PORT",
        "BACKPROP_WORKERS",
        "BACKPROP_METRICS",
        "BACKPROP_LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return calls


def test_serve_passes_host_port_workers_and_the_log_config(runs: list[dict[str, Any]]) -> None:
    cli.main(["--host", "0.0.0.0", "--port", "8123"])
    cli.main([])
    common = {
        "target": "app.main:app",
        "access_log": False,
        "proxy_headers": False,
        "multiproc_dir": None,
        "listing": None,
    }
    assert runs == [
        {**common, "host": "0.0.0.0", "port": 8123, "workers": 1, "log_config": uvicorn_log_config("text")},
        {**common, "host": "127.0.0.1", "port": 8000, "workers": 1, "log_config": uvicorn_log_config("text")},
    ]


def test_the_environment_gives_the_defaults_and_flags_override_it(
    runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKPROP_HOST", "0.0.0.0")
    monkeypatch.setenv("BACKPROP_PORT", "9000")
    monkeypatch.setenv("BACKPROP_LOG_FORMAT", "json")
    monkeypatch.setenv("BACKPROP_METRICS", "0")
    monkeypatch.setenv("BACKPROP_WORKERS", "3")
    cli.main([])
    cli.main(["--port", "9001", "serve"])
    assert [(r["host"], r["port"], r["workers"]) for r in runs] == [
        ("0.0.0.0", 9000, 3),
        ("0.0.0.0", 9001, 3),
    ]
    assert runs[0]["log_config"] == uvicorn_log_config("json")
    assert runs[0]["multiproc_dir"] is None  # metrics off: nothing to add up


def test_several_workers_get_a_fresh_folder_to_add_up_metrics_removed_afterwards(
    runs: list[dict[str, Any]],
) -> None:
    cli.main(["--workers", "2"])
    cli.main(["--workers", "2"])
    first, second = runs
    assert first["workers"] == 2
    assert first["multiproc_dir"] is not None and first["listing"] == []
    assert second["multiproc_dir"] != first["multiproc_dir"]
    assert not Path(first["multiproc_dir"]).exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_a_given_metrics_folder_is_kept_and_emptied_of_an_earlier_runs_values(
    runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "counter_1234.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    cli.main(["--workers", "2"])
    assert runs[0]["multiproc_dir"] == str(tmp_path)
    assert runs[0]["listing"] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_one_worker_needs_no_metrics_folder(runs: list[dict[str, Any]]) -> None:
    cli.main(["--workers", "1"])
    assert runs[0]["multiproc_dir"] is None


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--workers", "0"], {}, "--workers 0: at least 1"),
        (["--port", "x"], {}, "argument --port: invalid int value: 'x'"),
        ([], {"BACKPROP_PORT": "eighty"}, "BACKPROP_PORT='eighty' is not a whole number"),
        (["stop"], {}, "argument command: invalid choice: 'stop'"),
    ],
)
def test_bad_arguments_and_settings_exit_2_with_the_reason(
    runs: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert runs == []


def test_the_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--workers" in out and "healthcheck" in out


def test_healthcheck_exits_0_when_the_server_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    live = start_server()
    try:
        monkeypatch.setenv("BACKPROP_PORT", live.url.rsplit(":", 1)[1])
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # must be ignored: a check of itself
        with pytest.raises(SystemExit) as exited:
            cli.main(["healthcheck"])
        assert exited.value.code == 0
        assert cli.healthcheck("0.0.0.0", int(live.url.rsplit(":", 1)[1])) == 0
    finally:
        stop_server(live)


def test_healthcheck_exits_1_with_the_reason_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: the connection is refused
        assert cli.healthcheck("127.0.0.1", port, timeout=2.0) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"backprop-viz healthcheck: http://127.0.0.1:{port}/healthz: ")
    assert "refused" in err
