"""The Network tab of the page's panel: what it shows (its context) and its routes.

Everything here starts a *new* session and moves the page's cookie to it: a preset, a network
built from the architecture form, an imported file, a share link. The old session stays in the
store (a notebook may still be driving it through the API). A form that cannot be used is shown
again with a message next to the field at fault (422), and nothing is created.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from app import codec, pages, presets, share
from app.api import Store, create_session, new_session_id
from app.data_tab import TITLES, plural
from app.datasets import BUILTIN, DEFAULT_INPUT, DEFAULT_TARGET, Dataset, builtin
from app.engine import ACTIVATIONS, LOSSES, Architecture
from app.errors import InvalidInputError, NotASessionDocumentError
from app.limits import (
    MAX_LAYERS,
    MAX_LEARNING_RATE,
    MAX_SEED,
    MAX_UNITS,
    MAX_UPLOAD_BYTES,
    MIN_LAYERS,
    MIN_UNITS,
    UPLOAD_SLACK,
)
from app.pages import SameOrigin
from app.panel import View
from app.presets import PRESETS, Preset
from app.schemas import CreateSession, DatasetTable
from app.session import Session
from app.store import SessionStore
from app.templating import environment, html_response, is_htmx, render_page, render_regions

router = APIRouter(include_in_schema=False)

ACTIVATION_TITLES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "linear": "linear"}
LOSS_TITLES = {"l2": "L2: ½Σ(y − t)²", "bce": "cross-entropy (sigmoid output)"}
#: The data choices of the architecture form besides the built-ins.
KEEP, SINGLE = "current", "single"


# --------------------------------------------------------------------------------------------
# What the tab shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextField:
    """A text input of the architecture form (the shape templates/_field.html expects)."""

    name: str
    label: str
    value: str
    error: str | None


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class SelectField:
    name: str
    label: str
    options: tuple[Option, ...]
    error: str | None


@dataclass(frozen=True)
class ShareLink:
    """A share link of the session as it is now, or why there is none."""

    #: The absolute URL to copy, and the same as a path for the page's own link.
    url: str | None
    path: str | None
    #: Why no link could be made (the session is too big for one).
    error: str | None


@dataclass(frozen=True)
class NetworkTab:
    """What templates/_network.html shows."""

    presets: tuple[Preset, ...]
    layers: TextField
    activation: SelectField
    output_activation: SelectField
    loss: SelectField
    learning_rate: TextField
    seed: TextField
    train_biases: bool
    data: SelectField
    #: Messages not tied to one field ("preset", "form", "import").
    errors: Mapping[str, str]
    #: Where the whole session downloads as a JSON file.
    export_url: str
    #: The share link, once asked for (it needs the request's host).
    share: ShareLink | None
    max_upload_mb: int


def _options(choices: Mapping[str, str], chosen: str) -> tuple[Option, ...]:
    return tuple(Option(value, label, value == chosen) for value, label in choices.items())


def data_choices(current: Session) -> dict[str, str]:
    """The data a new network can start with: the current data, one sample, or a built-in."""
    data = current.data
    if data.is_single:
        keep = "Keep the current sample"
    else:
        keep = f"Keep the current data ({TITLES.get(data.name or '', 'your table')}, {len(data)} samples)"
    choices = {KEEP: keep, SINGLE: "One sample: the current one"}
    for name, dataset in BUILTIN.items():
        shape = f"{dataset.inputs.shape[1]} in, {dataset.targets.shape[1]} out"
        choices[name] = f"{TITLES[name]}: {len(dataset)} samples, {shape}"
    return choices


def context(
    current: Session,
    view: View,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    share_link: ShareLink | None = None,
) -> dict[str, Any]:
    """What templates/_network.html needs, added to the page's context when the tab is open."""
    values, errors = values or {}, errors or {}
    arch, config = current.arch, current.config

    def text(name: str, label: str, default: str) -> TextField:
        return TextField(name, label, values.get(name, default), errors.get(name))

    def select(name: str, label: str, choices: Mapping[str, str], default: str) -> SelectField:
        return SelectField(name, label, _options(choices, values.get(name, default)), errors.get(name))

    activations = {name: ACTIVATION_TITLES.get(name, name) for name in ACTIVATIONS}
    losses = {name: LOSS_TITLES.get(name, name) for name in LOSSES}
    submitted = bool(values)
    tab = NetworkTab(
        presets=tuple(PRESETS.values()),
        layers=text("layers", "Layer sizes, input first", ", ".join(str(n) for n in arch.layers)),
        activation=select("activation", "Hidden activation", activations, arch.activation),
        output_activation=select(
            "output_activation", "Output activation", activations, arch.output_activation
        ),
        loss=select("loss", "Loss", losses, arch.loss),
        learning_rate=text("learning_rate", "Learning rate η", repr(config.learning_rate)),
        seed=text("seed", "Seed of the weights", str(config.seed)),
        train_biases=values.get("train_biases") == "on" if submitted else config.train_biases,
        data=select("data", "Data", data_choices(current), KEEP),
        errors=errors,
        export_url=f"/api/sessions/{current.id}/export",
        share=share_link,
        max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    )
    return {"network_tab": tab}


# --------------------------------------------------------------------------------------------
# Reading the architecture form
# --------------------------------------------------------------------------------------------


def parse_layers(raw: str) -> tuple[list[int] | None, str | None]:
    """Layer sizes from "2, 3, 2" (commas, spaces or dashes between them), or a message."""
    words = raw.replace(",", " ").replace("-", " ").replace("–", " ").split()
    if not words:
        return None, "Layer sizes: enter the units of each layer, input first, e.g. 2, 3, 2"
    layers: list[int] = []
    for word in words:
        units = pages.whole_number(word)
        if units is None:
            return None, f"Layer sizes: “{word}” is not a whole number of units"
        layers.append(units)
    if not MIN_LAYERS <= len(layers) <= MAX_LAYERS:
        return None, (
            f"Layer sizes: a network has {MIN_LAYERS} to {MAX_LAYERS} layers "
            f"(input and output included), got {len(layers)}"
        )
    for units in layers:
        if not MIN_UNITS <= units <= MAX_UNITS:
            return None, f"Layer sizes: a layer has {MIN_UNITS} to {MAX_UNITS} units, got {units}"
    return layers, None


def _fitted(values: list[float], width: int, defaults: tuple[float, ...]) -> list[float]:
    """``values`` cut to ``width``, or extended with the article's numbers (repeated)."""
    return [values[i] if i < len(values) else defaults[i % len(defaults)] for i in range(width)]


def _data_fields(current: Session, choice: str, layers: list[int]) -> tuple[dict[str, Any], str | None]:
    """The data fields of CreateSession for the form's data choice, or a message."""
    n_in, n_out = layers[0], layers[-1]
    data: Dataset = current.data
    if choice == SINGLE or (choice == KEEP and data.is_single):
        return {
            "input": _fitted(current.input, n_in, DEFAULT_INPUT),
            "target": _fitted(current.target, n_out, DEFAULT_TARGET),
        }, None
    if choice in BUILTIN:
        data = builtin(choice)
    elif choice != KEEP:
        return {}, "Data: choose the current data, one sample or a built-in dataset"
    width_in, width_out = int(data.inputs.shape[1]), int(data.targets.shape[1])
    if (width_in, width_out) != (n_in, n_out):
        shape = "-".join(str(n) for n in layers)
        return {}, (
            f"Data: each sample has {plural(width_in, 'input')} and {plural(width_out, 'target')}, "
            f"but a {shape} network has {plural(n_in, 'input')} and {plural(n_out, 'output')}: "
            "change the layer sizes or choose other data"
        )
    if data.name is not None and data.name in BUILTIN:
        return {"dataset": data.name}, None
    return {"dataset": DatasetTable(inputs=data.inputs.tolist(), targets=data.targets.tolist())}, None


def read_architecture(
    current: Session, values: Mapping[str, str]
) -> tuple[CreateSession | None, dict[str, str]]:
    """The new session's body from the form, or the messages to show by field."""
    errors: dict[str, str] = {}
    layers, problem = parse_layers(values.get("layers", ""))
    if problem:
        errors["layers"] = problem
    for name, label in (("activation", "Hidden activation"), ("output_activation", "Output activation")):
        if values.get(name) not in ACTIVATIONS:
            errors[name] = f"{label}: choose one of {', '.join(ACTIVATIONS)}"
    loss = values.get("loss", "")
    if loss not in LOSSES:
        errors["loss"] = f"Loss: choose one of {', '.join(LOSSES)}"
    else:
        required = LOSSES[loss].requires_output
        if required is not None and values.get("output_activation") != required:
            errors["loss"] = f"Loss: cross-entropy needs a {required} output layer (choose it above)"
    learning_rate, problem = _number(values.get("learning_rate", ""))
    if problem or learning_rate is None or not 0.0 < learning_rate <= MAX_LEARNING_RATE:
        errors["learning_rate"] = problem or f"Learning rate: must lie in (0, {MAX_LEARNING_RATE:g}]"
    seed = pages.whole_number(values.get("seed", ""))
    if seed is None or seed > MAX_SEED:
        errors["seed"] = f"Seed: a whole number from 0 to {MAX_SEED}"
    if layers is None or errors:
        return None, errors
    data, problem = _data_fields(current, values.get("data", KEEP), layers)
    if problem:
        return None, {"data": problem}
    try:
        body = CreateSession(
            layers=layers,
            activation=values["activation"],
            output_activation=values["output_activation"],
            loss=loss,
            learning_rate=learning_rate,
            seed=seed,
            train_biases=values.get("train_biases") == "on",
            mode=current.config.mode,
            **data,
        )
        # Checked here, so that a refusal is a message and no session is made.
        Architecture(tuple(layers), body.activation, body.output_activation, body.loss)
    except (ValidationError, InvalidInputError) as exc:
        return None, {"form": _reason(exc)}
    return body, {}


def _number(raw: str) -> tuple[float | None, str | None]:
    text = raw.strip().replace("−", "-")
    try:
        value = float(text)
    except ValueError:
        return None, f"Learning rate: “{raw}” is not a number"
    if not math.isfinite(value):
        return None, "Learning rate: must be a finite number"
    return value, None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return str(exc)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def _view(values: Mapping[str, str]) -> View:

    return pages.view_of(values).but(tab="network", select="", answer="")


def _show(
    request: Request,
    current: Session,
    view: View,
    status: int,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    share_link: ShareLink | None = None,
) -> Response:
    """The panel (htmx) or the whole page, with the tab's messages or share link."""

    ctx = pages.context(current, view, request=request)
    ctx.update(context(current, view, values=values, errors=errors, share_link=share_link))
    if is_htmx(request):
        return render_regions(ctx, "panel", (), status)
    return render_page(ctx, status)


def _opened(request: Request, new: Session, view: View) -> Response:
    """The page now shows ``new``: the cookie moves to it and the whole page is loaded again."""

    target = "/" + view.query
    response: Response
    if is_htmx(request):
        # Everything on the page changes (even the title and the session link): a full load.
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    pages.set_cookie(response, request, new)
    return response


async def _current(request: Request, store: SessionStore) -> Session | None:

    return await run_in_threadpool(pages.cookie_session, request, store)


def _lost(request: Request) -> Response:

    return pages.lost_session(request)


async def _text_form(request: Request) -> dict[str, str]:
    """The form's text fields; a body that cannot be read counts as an empty form (refused)."""
    try:
        form = await request.form(max_files=0, max_fields=50)
    except HTTPException:
        return {}
    try:
        return {key: value for key, value in form.items() if isinstance(value, str)}
    finally:
        await form.close()


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


@router.post("/page/network/preset")
async def start_preset(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session from a preset; the old one stays in the store."""
    current = await _current(request, store)
    if current is None:
        return _lost(request)
    values = await _text_form(request)
    view = _view(values)
    name = values.get("name", "")
    if name not in PRESETS:
        message = f"Preset: unknown preset “{name}”; choose one of {', '.join(PRESETS)}"
        return _show(request, current, view, 422, errors={"preset": message})
    new = presets.create_from_preset(new_session_id(), name)
    await run_in_threadpool(store.add, new)
    return _opened(request, new, view)


@router.post("/page/network/create")
async def create_network(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session with the architecture of the form; invalid fields are shown, nothing is made."""
    current = await _current(request, store)
    if current is None:
        return _lost(request)
    values = await _text_form(request)
    view = _view(values)
    body, errors = read_architecture(current, values)
    if body is None:
        return _show(request, current, view, 422, values=values, errors=errors)
    try:
        new = await run_in_threadpool(create_session, store, body)
    except InvalidInputError as exc:
        return _show(request, current, view, 422, values=values, errors={"form": str(exc)})
    return _opened(request, new, view)


def read_upload(raw: bytes, session_id: str) -> Session:
    """A session from an uploaded file; InvalidInputError saying what is wrong with it."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise NotASessionDocumentError(
            f"Import: the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
        )
    if not raw.strip():
        raise NotASessionDocumentError("Import: the file is empty")

    def refuse_constant(name: str) -> Any:
        raise NotASessionDocumentError(
            f"Import: the file holds {name}, which is not a number a session can hold"
        )

    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise NotASessionDocumentError(
            "Import: the file is not text (UTF-8 JSON); choose a file exported here"
        ) from None
    except json.JSONDecodeError as exc:
        raise NotASessionDocumentError(
            f"Import: the file is not JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    except RecursionError:
        raise NotASessionDocumentError("Import: the file's JSON is nested too deeply") from None
    if not isinstance(document, dict):
        raise NotASessionDocumentError(
            "Import: the file is JSON but not a session document (expected an object)"
        )
    try:
        return codec.from_document(document, session_id)
    except InvalidInputError as exc:
        raise NotASessionDocumentError(f"Import: {exc}") from None
    except Exception as exc:  # a safety net under codec's checks: a bad file is never a 500
        raise NotASessionDocumentError(
            f"Import: not a valid session document ({type(exc).__name__})"
        ) from None


@router.post("/page/network/import")
async def import_file(request: Request, store: Store, _: SameOrigin) -> Response:
    """A new session from an exported file (multipart upload); a bad file is refused with the reason."""
    current = await _current(request, store)
    if current is None:
        return _lost(request)
    view = _view(dict(request.query_params))
    length = request.headers.get("content-length", "")
    too_big = f"Import: the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    size = pages.whole_number(length)
    if size is not None and size > MAX_UPLOAD_BYTES + UPLOAD_SLACK:
        return _show(request, current, view, 422, errors={"import": too_big})
    try:
        form = await request.form(max_files=1, max_fields=20)
    except HTTPException as exc:
        return _show(request, current, view, 422, errors={"import": f"Import: {exc.detail}"})
    try:
        view = _view({key: value for key, value in form.items() if isinstance(value, str)})
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            message = "Import: choose a session file (one saved with “Download this session”)"
            return _show(request, current, view, 422, errors={"import": message})
        raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    finally:
        await form.close()
    try:
        new = await run_in_threadpool(read_upload, raw, new_session_id())
    except InvalidInputError as exc:
        return _show(request, current, view, 422, errors={"import": str(exc)})
    await run_in_threadpool(store.add, new)
    return _opened(request, new, view)


def share_link(request: Request, current: Session) -> ShareLink:
    """The link that opens a copy of ``current`` (configuration and weights), or why there is none."""
    try:
        token = share.encode(current)
    except InvalidInputError as exc:
        return ShareLink(None, None, str(exc))
    path = f"/share/{token}"
    return ShareLink(str(request.base_url).rstrip("/") + path, path, None)


@router.get("/page/network/share")
async def show_share_link(request: Request, store: Store) -> Response:
    """The Network tab with a share link of the session as it is now."""
    current = await _current(request, store)
    if current is None:
        return _lost(request)
    view = _view(dict(request.query_params))
    return _show(request, current, view, 200, share_link=share_link(request, current))


@router.get("/share/{token}")
async def open_share_link(token: str, request: Request, store: Store) -> Response:
    """A fresh session from a share link: the cookie moves to it and the page shows it.

    Followed from another site (Sec-Fetch-Site: cross-site), the link first asks: a foreign page
    must not be able to swap a student's network behind their back. Typed, bookmarked or
    followed from this site, it opens at once.
    """
    try:
        fields = share.decode(token)
    except InvalidInputError as exc:
        return await _bad_link(request, store, str(exc))
    if request.headers.get("sec-fetch-site") == "cross-site":
        html = environment.get_template("share.html").render(token=token, fields=fields)
        return html_response(html)
    return await _open_shared(request, store, fields)


@router.post("/share/{token}")
async def confirm_share_link(token: str, request: Request, store: Store, _: SameOrigin) -> Response:
    """The confirmation of a share link followed from another site."""
    try:
        fields = share.decode(token)
    except InvalidInputError as exc:
        return await _bad_link(request, store, str(exc))
    return await _open_shared(request, store, fields)


async def _open_shared(request: Request, store: SessionStore, fields: dict[str, Any]) -> Response:
    try:
        new = await run_in_threadpool(_create_shared, store, fields)
    except InvalidInputError as exc:
        return await _bad_link(request, store, str(exc))
    return _opened(request, new, View())


def _create_shared(store: SessionStore, fields: dict[str, Any]) -> Session:
    from app import session

    new = session.create(new_session_id(), **fields)
    store.add(new)
    return new


async def _bad_link(request: Request, store: SessionStore, reason: str) -> Response:
    """The page (of the visitor's own session, or a new one) saying why the link did not open."""

    current = await _current(request, store)
    created = current is None
    if current is None:
        current = await run_in_threadpool(create_session, store, CreateSession())
    view = View(tab="network")
    ctx = pages.context(current, view, notice=f"This share link cannot be opened: {reason}", request=request)
    response = render_page(ctx, 422)
    if created:
        pages.set_cookie(response, request, current)
    return response
