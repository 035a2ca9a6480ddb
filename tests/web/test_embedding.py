"""Embedding: the pages' CSP frame-ancestors is 'none' unless BACKPROP_FRAME_ANCESTORS names who
may frame them."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web.embedding import directive

pytestmark = pytest.mark.anyio


def test_the_directive_names_the_sources_or_none() -> None:
    assert directive(()) == b"frame-ancestors 'none'"
    assert (
        directive(("'self'", "https://lms.example.edu")) == b"frame-ancestors 'self' https://lms.example.edu"
    )


def csp_directives(response: httpx.Response) -> list[str]:
    return [part.strip() for part in response.headers["content-security-policy"].split(";")]


@pytest.mark.parametrize("path", ["/", "/docs", "/sheets/check"])
async def test_by_default_no_one_may_frame_a_page(client: httpx.AsyncClient, path: str) -> None:
    assert "frame-ancestors 'none'" in csp_directives(await client.get(path))


@pytest.mark.parametrize("path", ["/", "/docs", "/sheets/check"])
async def test_the_listed_sources_may_frame_every_page(store: MemoryStore, path: str) -> None:
    sources = ("https://lms.example.edu", "https://*.jupyter.example")
    app = create_app(Settings(store="memory", frame_ancestors=sources), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        directives = csp_directives(await http.get(path))
    assert "frame-ancestors https://lms.example.edu https://*.jupyter.example" in directives
    assert not any("'none'" in d and d.startswith("frame-ancestors") for d in directives)
    assert "script-src 'self'" in directives  # the rest of the policy as strict as ever
