"""/docs: Swagger UI from the app's own files under a strict Content-Security-Policy (no inline
script: its start-up is static/swagger-init.js), and in a real Chromium it renders every operation
with no console error (a CSP violation would be one)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import Watched

OPERATIONS = 32


@pytest.mark.anyio
async def test_docs_has_no_inline_script_and_a_strict_policy(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    policy = [part.strip() for part in docs.headers["content-security-policy"].split(";")]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert re.findall(r"<script[^>]*>", docs.text) == [
        '<script src="/vendor/swagger-ui/swagger-ui-bundle.js">',
        '<script src="/static/swagger-init.js">',
    ]
    assert "<style" not in docs.text and "style=" not in docs.text
    init = await client.get("/static/swagger-init.js")
    assert init.status_code == 200
    assert 'url: "/openapi.json"' in init.text


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_without_an_error(watched: Watched) -> None:
    page = watched.page
    page.goto(f"{watched.live.url}/docs")
    expect(page.locator(".opblock")).to_have_count(OPERATIONS)
    tags = page.eval_on_selector_all(".opblock-tag", "tags => tags.map(t => t.dataset.tag)")
    assert tags == ["sessions", "steps", "history", "working", "runs", "sheets", "presets", "meta"]
    # Open one operation: its parameters, body schema and answers render under the policy too.
    page.click("#operations-steps-train .opblock-summary")
    page.wait_for_selector("#operations-steps-train .responses-table")
    assert (
        page.locator("#operations-steps-train .parameters-col_name:has-text('Idempotency-Key')").count() == 1
    )
    assert watched.foreign == []
