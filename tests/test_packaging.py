"""The wheel: ``pip install .`` from a clean copy of the repository, into a fresh virtualenv, gives a
``backprop-viz`` that serves the whole page with the checkout gone.

Slow (a fresh virtualenv installs every dependency, from pip's cache when it can), so marked
``slow``; it still runs in the normal suite and under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.processes import clean_environment, free_port, running

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _clean_copy(target: Path) -> None:
    """The files git would commit (tracked, or new and not ignored): no .venv, node_modules, build/."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        reason = "the packaging test copies the repository with git; this is not a git checkout"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from a clean copy installed; the copy is deleted."""
    root = tmp_path_factory.mktemp("wheel")
    source, dist, venv = root / "source", root / "dist", root / "venv"
    source.mkdir()
    _clean_copy(source)
    env = clean_environment()
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)], check=True, env=env)
    shutil.rmtree(source)  # the installed app must need nothing from the checkout
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    (wheel,) = dist.glob("backprop_viz-*.whl")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--quiet", "install", str(wheel)], check=True, env=env
    )
    return venv


def test_the_wheel_is_a_real_wheel_with_the_page_inside(installed: Path) -> None:
    (wheel,) = installed.parent.joinpath("dist").glob("backprop_viz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "app/main.py",
        "app/_bundle/templates/page.html",
        "app/_bundle/static/app.css",
        "app/_bundle/vendor/htmx/htmx.min.js",
        "app/_bundle/vendor/htmx/LICENSE",
        "app/_bundle/vendor/htmx-ext-sse/sse.min.js",
        "app/_bundle/vendor/htmx-ext-sse/LICENSE",
        "app/_bundle/templates/follow.html",
        "app/_bundle/vendor/swagger-ui/swagger-ui-bundle.js",
        "app/_bundle/vendor/swagger-ui/swagger-ui.css",
        "app/_bundle/vendor/swagger-ui/LICENSE",
    ):
        assert name in names
    assert not any(name.startswith(("tests/", "bench/", "node_modules/")) for name in names)
    assert not any("axe" in name for name in names)  # a test tool (a dev dependency), not the page's
    assert not any(name.endswith(".pth") for name in names)  # not an editable install's link


def test_the_installed_command_serves_the_whole_page(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    command = [str(installed / "bin" / "backprop-viz"), "--port", str(port)]
    # A working directory with no app/ in it, and the memory store: nothing is written anywhere.
    env = clean_environment(BACKPROP_STORE="memory", HOME=str(tmp_path))
    with running(command, port, env, tmp_path, tmp_path / "server.log") as http:
        page = http.get("/")
        assert page.status_code == 200
        assert '<script src="/vendor/htmx/htmx.min.js" defer></script>' in page.text
        for path in (
            "/static/app.css",
            "/vendor/htmx/htmx.min.js",
            "/vendor/htmx-ext-sse/sse.min.js",
            "/vendor/swagger-ui/swagger-ui-bundle.js",
            "/docs",
            "/healthz",
            "/readyz",
            "/metrics",
        ):
            assert http.get(path).status_code == 200, path
        htmx = REPO / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
        if htmx.is_file():  # the same bytes as the locked package the checkout installed
            assert http.get("/vendor/htmx/htmx.min.js").content == htmx.read_bytes()
        assert http.get("/vendor/htmx/htmx.js").status_code == 404  # only what the page loads
        # The image's health check: the installed command, told the port by the environment.
        check = [str(installed / "bin" / "backprop-viz"), "healthcheck"]
        assert subprocess.run(check, env={**env, "BACKPROP_PORT": str(port)}, check=False).returncode == 0
