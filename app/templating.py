"""Rendering the page: the whole page, or only named regions for an htmx swap.

Each swappable region has one name, used three times: the template block, the element ``id`` and
the ``hx-target`` that points at it. A region rendered for an out-of-band swap gets ``oob`` set to
its own name, which its root element (and only it, not a region nested in it) turns into
``hx-swap-oob="true"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2_fragments import render_block

from app.diagram import fmt, full
from app.resources import TEMPLATES

PAGE = "page.html"

#: Every swappable region of the page, in page order.
REGIONS = ("status", "diagram", "controls", "panel", "sample", "dataset")

#: A strict Content-Security-Policy: no inline script or style anywhere in our pages.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["fmt"] = fmt
environment.filters["full"] = full


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render_page(context: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    html = environment.get_template(PAGE).render({**context, "oob": ""})
    return html_response(html, status_code)


def render_regions(
    context: Mapping[str, Any], primary: str, secondary: Iterable[str] = (), status_code: int = 200
) -> HTMLResponse:
    """The primary region for the request's target, then the others as out-of-band swaps."""
    parts = [render_block(environment, PAGE, primary, {**context, "oob": ""})]
    parts += [
        render_block(environment, PAGE, name, {**context, "oob": name})
        for name in secondary
        if name != primary
    ]
    return html_response("\n".join(parts), status_code)


def render_out_of_band(context: Mapping[str, Any], regions: Iterable[str]) -> HTMLResponse:
    """Every region as an out-of-band swap, for a request that swaps nothing itself (the watch)."""
    parts = [render_block(environment, PAGE, name, {**context, "oob": name}) for name in regions]
    return html_response("\n".join(parts))


def html_response(html: str, status_code: int = 200) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Vary"] = "HX-Request, Cookie"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
