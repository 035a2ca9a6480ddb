"""The architecture, checked: the import contracts of pyproject.toml (layers, no cycles, a core
that knows nothing of the web) and the size of every module in app/. Function complexity is
ruff's mccabe rule (C901, max 15, in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

import importlinter.api  # noqa: F401 - configures import-linter before its use cases run
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
#: Most lines a module of app/ may have.
MAX_MODULE_LINES = 500
#: Modules allowed to be longer for now, and why.
LONGER_FOR_NOW: dict[str, str] = {}


def test_imports_keep_the_contracts() -> None:
    """Every contract of [tool.importlinter] is kept (the report is printed on failure)."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)


def module_lengths() -> dict[str, int]:
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(APP.rglob("*.py"))
    }


def test_no_module_in_app_is_longer_than_500_lines() -> None:
    lengths = module_lengths()
    too_long = {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES and name not in LONGER_FOR_NOW}
    assert too_long == {}


def test_every_exemption_is_still_needed() -> None:
    lengths = module_lengths()
    stale = [name for name in LONGER_FOR_NOW if lengths.get(name, 0) <= MAX_MODULE_LINES]
    assert stale == [], "lift these exemptions: the modules are short enough now"
