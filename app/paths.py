"""Where the files the server reads and serves live: folders of the repository, beside ``app/``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
#: Front-end packages from the npm registry (package-lock.json), served by the app itself.
NODE_MODULES = ROOT / "node_modules"
VENDOR = {
    "htmx": NODE_MODULES / "htmx.org" / "dist",
    "swagger-ui": NODE_MODULES / "swagger-ui-dist",
}
