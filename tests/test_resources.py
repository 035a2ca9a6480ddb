"""Where the page's files are found: inside the package in a wheel, beside it in a checkout."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from app import resources


def _load_from(package: Path) -> ModuleType:
    """A copy of app/resources.py imported from ``package`` (a stand-in for an installed app/)."""
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy2(resources.__file__, package / "resources.py")
    spec = importlib.util.spec_from_file_location("resources_copy", package / "resources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_checkout_reads_the_folders_beside_the_package(tmp_path: Path) -> None:
    found = _load_from(tmp_path / "app")
    layout = (found.TEMPLATES, found.STATIC, found.VENDOR)
    assert layout == (
        tmp_path / "templates",
        tmp_path / "static",
        {
            "htmx": tmp_path / "node_modules" / "htmx.org" / "dist",
            "htmx-ext-sse": tmp_path / "node_modules" / "htmx-ext-sse" / "dist",
            "swagger-ui": tmp_path / "node_modules" / "swagger-ui-dist",
        },
    )


def test_a_wheel_reads_the_bundle_inside_the_package(tmp_path: Path) -> None:
    (tmp_path / "site-packages" / "app" / "_bundle" / "templates").mkdir(parents=True)
    found = _load_from(tmp_path / "site-packages" / "app")
    bundle = tmp_path / "site-packages" / "app" / "_bundle"
    layout = (found.TEMPLATES, found.STATIC, found.VENDOR)
    assert layout == (
        bundle / "templates",
        bundle / "static",
        {
            "htmx": bundle / "vendor" / "htmx",
            "htmx-ext-sse": bundle / "vendor" / "htmx-ext-sse",
            "swagger-ui": bundle / "vendor" / "swagger-ui",
        },
    )


def test_this_checkout_has_what_the_page_loads() -> None:
    assert (resources.TEMPLATES / "page.html").is_file()
    assert (resources.STATIC / "app.css").is_file()
    # Every file a wheel bundles exists in an installed node_modules (scripts/setup runs npm ci).
    node_modules = resources.CHECKOUT / "node_modules"
    for npm in resources.NPM.values():
        for name in npm.files:
            assert (node_modules / npm.package / name).is_file(), name
