"""A 405 lists in Allow every method the path takes, across the routes that share it."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/sessions/x/step", "POST"),
        ("PUT", "/api/sessions/x", "DELETE, GET, PATCH"),  # three routes share the path
        ("PUT", "/api/sessions/x/runs", "DELETE, GET, POST"),
        ("GET", "/api/sessions", "POST"),
        ("DELETE", "/api/presets", "GET"),
        ("POST", "/api/sessions/x/history", "GET"),
        ("PUT", "/api/sheets/ABCD", "GET"),
        ("POST", "/healthz", "GET"),
        ("POST", "/static/app.css", "GET, HEAD"),
    ],
)
async def test_allow_lists_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
