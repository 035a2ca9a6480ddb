"""Where the page's files are: templates, static files and the front-end packages from npm.

A wheel carries them inside the package, in ``app/_bundle/`` (``setup.py`` copies them there when it
builds); a checkout (an editable install, ``uvicorn app.main:app`` from the repository root) reads
``templates/``, ``static/`` and ``node_modules/`` beside the package. Nothing else knows either layout.

This module imports only the standard library: ``setup.py`` loads it to learn which npm files to bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class NpmFiles(NamedTuple):
    """What the app serves of one npm package, at ``/vendor/<name>/``."""

    package: str
    """its folder under ``node_modules/``, as named in package-lock.json"""
    served: str
    """the package's subfolder served at ``/vendor/<name>/`` from a checkout"""
    files: tuple[str, ...]
    """the files a wheel carries, relative to the package folder: what the pages load, and the licence
    notices that must travel with them (each lands at ``/vendor/<name>/<its base name>``)"""


#: The front-end packages, by the name they are served under.
NPM: dict[str, NpmFiles] = {
    "htmx": NpmFiles("htmx.org", "dist", ("dist/htmx.min.js", "LICENSE")),
    "htmx-ext-sse": NpmFiles("htmx-ext-sse", "dist", ("dist/sse.min.js", "LICENSE")),
    "swagger-ui": NpmFiles(
        "swagger-ui-dist",
        "",
        ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-bundle.js.LICENSE.txt", "LICENSE", "NOTICE"),
    ),
}

#: The folder inside the package where a wheel keeps the files (``setup.py`` writes it).
BUNDLE_NAME = "_bundle"

PACKAGE = Path(__file__).resolve().parent
BUNDLE = PACKAGE / BUNDLE_NAME
CHECKOUT = PACKAGE.parent

if (BUNDLE / "templates").is_dir():
    TEMPLATES = BUNDLE / "templates"
    STATIC = BUNDLE / "static"
    VENDOR = {name: BUNDLE / "vendor" / name for name in NPM}
else:
    TEMPLATES = CHECKOUT / "templates"
    STATIC = CHECKOUT / "static"
    VENDOR = {name: CHECKOUT / "node_modules" / npm.package / npm.served for name, npm in NPM.items()}
