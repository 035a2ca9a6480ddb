"""Rendering the page: the whole page, or only named regions for an htmx swap.

Each swappable region has one name, used three times: the template block, the element ``id`` and
the ``hx-target`` that points at it. Which regions an answer carries comes from :data:`SHOWN`
(what kind of change the request made) and the request's own target (htmx's ``HX-Target``
header, else the route's form's target): the target first, swapped in place, then every other
region that shows the change, out of band. A region rendered for an out-of-band swap gets ``oob``
set to its own name, which its root element (and only it, not a region nested in it) turns into
``hx-swap-oob="true"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2_fragments import render_block

from app import limits
from app.notation import fmt, full
from app.resources import TEMPLATES

PAGE = "page.html"

#: Every swappable region of the page, in the order an answer carries them after its own target.
REGIONS = ("diagram", "status", "controls", "sample", "panel", "dataset", "announce", "follow")

Shown = Literal["session", "view", "poll", "notice", "form"]
#: Which regions show each kind of change.
SHOWN: dict[Shown, tuple[str, ...]] = {
    # The session's numbers, data or settings: every region that shows them.
    # "announce" says the step out loud (a live region: only its text is swapped).
    "session": ("diagram", "status", "controls", "sample", "panel", "announce"),
    # The panel's view (tab, selection): the panel, the selection in the diagram, and the
    # controls, which carry the view along with every step.
    "view": ("diagram", "controls", "panel"),
    # A polled answer (a training run's progress, a page watching the API) leaves the sample
    # form alone, so that it never redraws the form over what is being typed.
    "poll": ("diagram", "status", "controls", "panel"),
    # A refused step: the status says why; nothing else changed.
    "notice": ("status",),
    # A refused form: it shows its own messages; nothing else changed.
    "form": (),
}

#: A strict Content-Security-Policy: no inline script or style anywhere in our pages.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    # Templates are read once per process: checking every file's mtime on each render (jinja's
    # default) was a fifth of a page step's time under load (py-spy). Restart to see an edit.
    auto_reload=False,
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["fmt"] = fmt
environment.filters["full"] = full
# The bounds, so that a hint in a template says what the checks enforce.
environment.globals["limits"] = limits


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def own_region(request: Request, default: str) -> str:
    """The region the request swaps: htmx's HX-Target (the target element's id), else ``default``
    (the target of the form the route serves)."""
    target = request.headers.get("hx-target", "")
    return target if target in REGIONS else default


def regions_of(shown: Shown, own: str) -> tuple[str, ...]:
    """The regions an answer carries: its own first, then the others that show the change."""
    return (own, *(name for name in SHOWN[shown] if name != own))


def render_page(context: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    html = environment.get_template(PAGE).render({**context, "oob": ""})
    return html_response(html, status_code)


def render_regions(
    context: Mapping[str, Any], shown: Shown, own: str, status_code: int = 200, *, swapped: bool = True
) -> HTMLResponse:
    """The request's own region, then the others that show the change as out-of-band swaps.

    ``swapped`` False: the request swaps nothing itself (the watch), so its own region comes out
    of band too.
    """
    names = regions_of(shown, own)
    parts = [_block(name, context, oob=not swapped or index > 0) for index, name in enumerate(names)]
    return html_response("\n".join(parts), status_code)


def render_fragment(template: str, block: str, context: Mapping[str, Any]) -> str:
    """One block of ``template`` on its own (a fragment sent some other way than an htmx answer)."""
    return str(render_block(environment, template, block, context))


def _block(name: str, context: Mapping[str, Any], *, oob: bool) -> str:
    return str(render_block(environment, PAGE, name, {**context, "oob": name if oob else ""}))


def html_response(html: str, status_code: int = 200) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Vary"] = "HX-Request, Cookie"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
