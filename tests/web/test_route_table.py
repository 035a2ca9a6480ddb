"""Which routes take a path, across included routers: each with its parameter count and methods."""

from __future__ import annotations

from typing import Any

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web.route_table import routes_at


def found(path: str) -> set[tuple[int, frozenset[str]]]:
    app = create_app(Settings(store="memory"), store=MemoryStore(ttl=60.0, max_sessions=10))
    scope: dict[str, Any] = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return {(parameters, methods) for _, parameters, methods in routes_at(app.routes, scope)}


def test_a_literal_path_is_found_beside_the_templates_it_also_fits() -> None:
    assert found("/api/sessions/import") == {
        (0, frozenset({"POST"})),  # the import itself
        (1, frozenset({"GET"})),  # /api/sessions/{session_id}, three routes
        (1, frozenset({"PATCH"})),
        (1, frozenset({"DELETE"})),
    }


def test_static_files_take_get_and_head() -> None:
    assert found("/static/app.css") == {(1, frozenset({"GET", "HEAD"}))}


def test_no_route_no_answer() -> None:
    assert found("/nowhere/at/all") == set()
