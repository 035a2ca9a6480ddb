"""The Network tab's routes: a new session from a preset, from the architecture form, or from an
uploaded file. (Its share links have routes of their own: ``share_links``.)

Each starts a *new* session and moves the page's cookie to it. The old session stays in the store
(a notebook may still be driving it through the API), but the page moves away from it, so a preset
or a network of the form asks first: sent without ``confirmed=1``, the tab comes back with the
question and a button that sends the same form again with it (no JavaScript needed). A form that
cannot be used is shown again with a message next to the field at fault (422), and nothing is
created. What the tab shows is
:mod:`app.web.views.network`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.errors import NotASessionDocumentError
from app.limits import MAX_UPLOAD_BYTES, UPLOAD_SLACK
from app.presets import PRESETS
from app.session import Session
from app.session_file import TOO_LARGE, read_session_file
from app.web.architecture_form import read_architecture
from app.web.deps import SameOrigin, Store
from app.web.errors import REFUSALS, retry_headers, status_of
from app.web.forms import read_form
from app.web.responses import keep_new, opened, page_session, show_tab
from app.web.services import create_from_preset, create_session, new_session_id
from app.web.views import network
from app.web.views.network import tab_view
from app.web.views.panel import View

router = APIRouter(include_in_schema=False)


def _refuse(
    request: Request,
    current: Session,
    view: View,
    errors: Mapping[str, str],
    values: Mapping[str, str] | None = None,
    status_code: int = 422,
) -> Response:
    """The tab again with the messages (422, or the status of a refusal); nothing has been made."""
    context = network.context(current, view, values=values, errors=errors)
    return show_tab(request, current, view, context, status_code)


def _refuse_busy(
    request: Request,
    current: Session,
    view: View,
    field: str,
    exc: Exception,
    values: Mapping[str, str] | None = None,
) -> Response:
    """A new session refused by the store or the client's limit: its message by ``field``, its
    status, and when to try again."""
    response = _refuse(request, current, view, {field: str(exc)}, values, status_of(exc))
    response.headers.update(retry_headers(exc))
    return response


def _ask_first(
    request: Request, current: Session, view: View, confirm: str, values: Mapping[str, str] | None = None
) -> Response:
    """The tab again with the question whether to start (200); nothing has been made."""
    context = network.context(current, view, values=values, confirm=confirm)
    return show_tab(request, current, view, context, 200)


def _confirmed(values: Mapping[str, str]) -> bool:
    return values.get("confirmed") == "1"


@router.post("/page/network/preset")
async def start_preset(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session from a preset; the old one stays in the store."""
    current = await run_in_threadpool(page_session, request, store)
    form = await read_form(request)
    view = tab_view(form.fields)
    name = form.get("name")
    if name not in PRESETS:
        message = f"Preset: unknown preset “{name}”; choose one of {', '.join(PRESETS)}"
        return _refuse(request, current, view, {"preset": message})
    if not _confirmed(form.fields):
        return _ask_first(request, current, view, f"preset:{name}")
    try:
        new = await run_in_threadpool(keep_new, request, store, lambda kept: create_from_preset(kept, name))
    except REFUSALS as exc:
        return _refuse_busy(request, current, view, "preset", exc)
    return opened(request, new, view)


@router.post("/page/network/create")
async def create_network(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session with the architecture of the form; invalid fields are shown, nothing is made."""
    current = await run_in_threadpool(page_session, request, store)
    form = await read_form(request)
    view = tab_view(form.fields)
    body, errors = read_architecture(current, form.fields)
    if body is None:
        return _refuse(request, current, view, errors, form.fields)
    if not _confirmed(form.fields):
        return _ask_first(request, current, view, "create", form.fields)
    try:
        new = await run_in_threadpool(keep_new, request, store, lambda kept: create_session(kept, body))
    except REFUSALS as exc:
        return _refuse_busy(request, current, view, "form", exc, form.fields)
    return opened(request, new, view)


@router.post("/page/network/import")
async def import_file(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session from an exported file (multipart upload); a bad file is refused with the reason."""
    current = await run_in_threadpool(page_session, request, store)
    form = await read_form(
        request, max_bytes=MAX_UPLOAD_BYTES + UPLOAD_SLACK, upload="file", max_upload_bytes=MAX_UPLOAD_BYTES
    )
    view = tab_view(request.query_params if form.problem else form.fields)
    if form.too_large:
        return _refuse(request, current, view, {"import": TOO_LARGE})
    if form.unreadable is not None:
        return _refuse(request, current, view, {"import": f"Import: {form.unreadable}"})
    if form.upload is None:
        message = "Import: choose a session file (one saved with “Download this session”)"
        return _refuse(request, current, view, {"import": message})
    try:
        new = await run_in_threadpool(read_session_file, form.upload.data, new_session_id())
    except NotASessionDocumentError as exc:
        return _refuse(request, current, view, {"import": str(exc)})
    try:
        await run_in_threadpool(keep_new, request, store, lambda kept: kept.add(new))
    except REFUSALS as exc:
        return _refuse_busy(request, current, view, "import", exc)
    return opened(request, new, view)
