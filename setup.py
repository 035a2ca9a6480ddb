"""The wheel's one build step beyond setuptools' own: put the page's files inside the package.

``templates/``, ``static/`` and the npm files the page loads (see ``app/resources.py``) are copied to
``app/_bundle/`` in the build tree, so an installed wheel serves the whole page. The npm files come
from ``node_modules/`` when it holds exactly the versions package-lock.json pins (the Docker builder
stage, a developer's checkout), else from ``npm ci --ignore-scripts`` run in a scratch folder
(``--ignore-scripts``: swagger-ui-dist's postinstall only sends analytics). Editable installs copy
nothing: they read the checkout in place. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _resources() -> ModuleType:
    """``app/resources.py`` loaded by its path (the package's dependencies are not installed yet)."""
    spec = importlib.util.spec_from_file_location("_backprop_resources", ROOT / "app" / "resources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _locked_versions(packages: list[str]) -> dict[str, str]:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return {name: str(lock["packages"][f"node_modules/{name}"]["version"]) for name in packages}


def _matches_lock(node_modules: Path, locked: dict[str, str]) -> bool:
    for name, version in locked.items():
        manifest = node_modules / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text(encoding="utf-8"))["version"] != version:
            return False
    return True


def _npm_ci(scratch: Path) -> Path:
    """A fresh node_modules/ installed from the lockfile in the empty folder ``scratch``."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "building the backprop-viz wheel needs npm (Node.js) to fetch the front-end packages pinned "
            "in package-lock.json, or a node_modules/ installed by `npm ci --ignore-scripts`"
        )
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ROOT / name, scratch / name)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(command, cwd=scratch, check=True)
    return scratch / "node_modules"


class BuildPyWithPage(build_py):
    """setuptools' build_py, then the page's files copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        resources = _resources()
        bundle = Path(self.build_lib) / "app" / resources.BUNDLE_NAME
        shutil.rmtree(bundle, ignore_errors=True)  # nothing stale from an earlier build
        shutil.copytree(ROOT / "templates", bundle / "templates")
        shutil.copytree(ROOT / "static", bundle / "static")
        npm = resources.NPM
        locked = _locked_versions([files.package for files in npm.values()])
        with tempfile.TemporaryDirectory(prefix="backprop-viz-npm-") as scratch:
            node_modules = ROOT / "node_modules"
            if not _matches_lock(node_modules, locked):
                node_modules = _npm_ci(Path(scratch))
                if not _matches_lock(node_modules, locked):
                    raise SystemExit(f"npm ci did not install the locked versions {locked}")
            for name, files in npm.items():
                target = bundle / "vendor" / name
                target.mkdir(parents=True)
                for file in files.files:
                    shutil.copy2(node_modules / files.package / file, target / Path(file).name)


setup(cmdclass={"build_py": BuildPyWithPage})
