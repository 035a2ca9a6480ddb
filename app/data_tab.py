"""The Data tab of the page's panel: what it shows (its context) and its routes.

The tab shows the data in use (the article's single sample, a built-in dataset or the user's own
table), the training mode, every sample with the network's current output for it, and, for a
network with two inputs, a decision map per output unit. Its forms change the dataset, the mode and
the current sample; each is a plain POST (303 back to the page) that htmx turns into a swap of the
panel and of the regions the change touches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from app import decision, engine, pages, session
from app.api import Store
from app.datasets import BUILTIN, DESCRIPTIONS, Dataset, builtin, make_dataset, single
from app.decision import DecisionMap
from app.engine import Architecture
from app.errors import InvalidInputError
from app.limits import MAX_ABS_VALUE, MAX_FORM_BYTES, MAX_SAMPLES, MAX_TABLE_CHARS
from app.pages import SameOrigin
from app.panel import View
from app.session import MODES, Mode, Session
from app.templating import is_htmx, render_page, render_regions

router = APIRouter(include_in_schema=False)

#: Regions a change of the data touches: the panel (the request's target), then the rest.
DATA_REGIONS = ("panel", "diagram", "status", "controls", "sample")

#: The choices of the dataset form besides the built-ins.
SINGLE, TABLE = "single", "table"
TITLES: dict[str, str] = {
    SINGLE: "Single sample",
    "xor": "XOR",
    "and": "AND",
    "or": "OR",
    "blobs": "Blobs",
    "circle": "Circle",
    TABLE: "Your own table",
}
MODE_TITLES: dict[str, tuple[str, str]] = {
    "sgd": ("SGD", "one sample per step, in turn"),
    "batch": ("Batch", "every sample at once, the mean gradient"),
}
TABLE_EXAMPLE = "0 1 ; 1"


# --------------------------------------------------------------------------------------------
# What the tab shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One entry of the dataset form: the single sample or a built-in dataset."""

    #: The form value: "single" or a built-in name.
    name: str
    title: str
    description: str
    #: What it needs that this network lacks ("needs 2 inputs and 1 output"); None if it fits.
    misfit: str | None
    #: True for the data in use.
    in_use: bool
    #: True for the radio button that is checked.
    checked: bool


@dataclass(frozen=True)
class Row:
    """One sample: its input, its target and the network's output for it now."""

    index: int
    inputs: tuple[float, ...]
    targets: tuple[float, ...]
    outputs: tuple[float, ...]
    #: The session's current sample: the one the diagram shows.
    current: bool
    #: The sample the next step starts with (in SGD mode, after an update, the one after the current).
    next: bool


@dataclass(frozen=True)
class DataTab:
    """What templates/_data.html shows."""

    #: The kind of data in use: "single", a built-in name, or "table".
    kind: str
    #: The data in use, in words ("XOR, 4 samples").
    summary: str
    #: The single sample and the built-in datasets (the user's table has a form of its own).
    choices: tuple[Choice, ...]
    #: The text of the table field: the user's own (after a refused submit) or the data in use.
    table: str
    mode: Mode
    modes: tuple[tuple[str, str, str], ...]
    input_names: tuple[str, ...]
    target_names: tuple[str, ...]
    output_names: tuple[str, ...]
    rows: tuple[Row, ...]
    #: One decision map per output unit; () unless the network has 2 inputs.
    maps: tuple[DecisionMap, ...]
    #: Messages by field: "dataset", "table", "mode", "sample".
    errors: Mapping[str, str]
    #: The most rows a table may have.
    max_samples: int = MAX_SAMPLES


def kind_of(data: Dataset) -> str:
    if data.is_single:
        return SINGLE
    if data.name is not None and data.name in BUILTIN:
        return data.name
    return TABLE


def summary_of(data: Dataset) -> str:
    kind = kind_of(data)
    if kind == SINGLE:
        return "Single sample (the article's setting)"
    samples = f"{len(data)} sample{'s' if len(data) != 1 else ''}"
    return f"{TITLES[kind]}, {samples}"


def _number(value: float) -> str:
    """A value as the table field shows it: integers without a decimal point, others in full."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def table_text(data: Dataset) -> str:
    """The data in the table field's format: one sample per line, ``inputs ; targets``."""
    return "\n".join(
        " ".join(_number(float(v)) for v in x) + " ; " + " ".join(_number(float(v)) for v in t)
        for x, t in zip(data.inputs, data.targets, strict=True)
    )


def _layers(arch: Architecture) -> str:
    return "-".join(str(n) for n in arch.layers)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def need(arch: Architecture, data: Dataset) -> str | None:
    """What ``data`` needs that this network lacks, in a few words; None if it fits."""
    width_in, width_out = int(data.inputs.shape[1]), int(data.targets.shape[1])
    if (width_in, width_out) == (arch.layers[0], arch.layers[-1]):
        return None
    return f"needs {plural(width_in, 'input')} and {plural(width_out, 'output')}"


def misfit(arch: Architecture, data: Dataset, title: str) -> str | None:
    """Why ``data`` cannot train this network, with what to do about it; None if it fits."""
    width_in, width_out = int(data.inputs.shape[1]), int(data.targets.shape[1])
    n_in, n_out = arch.layers[0], arch.layers[-1]
    if (width_in, width_out) == (n_in, n_out):
        return None
    return (
        f"{title} has {plural(width_in, 'input')} and {plural(width_out, 'target')} per sample, "
        f"but this {_layers(arch)} network has {plural(n_in, 'input')} and {plural(n_out, 'output')}: "
        f"build a {width_in}-…-{width_out} network in the Network tab"
    )


def context(
    current: Session,
    view: View,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What templates/_data.html needs, added to the page's context when the tab is open."""
    values, errors = values or {}, errors or {}
    arch, data = current.arch, current.data
    kind = kind_of(data)
    checked = values.get("dataset", kind)
    described = {
        SINGLE: ("one input and its target, set in the form above", None),
        **{name: (DESCRIPTIONS[name], need(arch, BUILTIN[name])) for name in BUILTIN},
    }
    choices = tuple(
        Choice(name, TITLES[name], description, problem, kind == name, checked == name)
        for name, (description, problem) in described.items()
    )
    outputs = engine.predict(arch, current.params, data.inputs)
    upcoming = session.next_sample(current)
    rows = tuple(
        Row(
            index=i,
            inputs=tuple(float(v) for v in data.inputs[i]),
            targets=tuple(float(v) for v in data.targets[i]),
            outputs=tuple(float(v) for v in outputs[i]),
            current=i == current.sample_index,
            next=i == upcoming,
        )
        for i in range(len(data))
    )
    tab = DataTab(
        kind=kind,
        summary=summary_of(data),
        choices=choices,
        table=values.get("table", table_text(data)),
        mode=current.config.mode,
        modes=tuple((name, *MODE_TITLES[name]) for name in MODES),
        input_names=tuple(f"x{i + 1}" for i in range(arch.layers[0])),
        target_names=tuple(f"t{j + 1}" for j in range(arch.layers[-1])),
        output_names=tuple(f"y{j + 1}" for j in range(arch.layers[-1])),
        rows=rows,
        maps=decision.build(current),
        errors=errors,
    )
    return {"data_tab": tab}


# --------------------------------------------------------------------------------------------
# Reading the forms
# --------------------------------------------------------------------------------------------


def parse_table(text: str) -> Dataset:
    """A user's table: one sample per line, the inputs, a ';', the targets.

    Numbers are separated by spaces or commas; blank lines and lines starting with '#' are
    skipped. Raises InvalidInputError with a message that names the line.
    """
    if len(text) > MAX_TABLE_CHARS:
        raise InvalidInputError(f"Table: at most {MAX_TABLE_CHARS} characters, got {len(text)}")
    inputs: list[list[float]] = []
    targets: list[list[float]] = []
    first_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(inputs) == MAX_SAMPLES:
            count = sum(1 for r in text.splitlines() if r.strip() and not r.strip().startswith("#"))
            raise InvalidInputError(f"Table: at most {MAX_SAMPLES} samples, got {count}")
        where = f"Table, line {number}"
        parts = line.split(";")
        if len(parts) != 2:
            raise InvalidInputError(
                f"{where}: separate the inputs from the targets with one ';' (e.g. {TABLE_EXAMPLE})"
            )
        row_in, row_out = (_numbers(part, where) for part in parts)
        if not row_in or not row_out:
            raise InvalidInputError(
                f"{where}: needs at least one input before the ';' and one target after it"
            )
        if inputs:
            for label, row, rows in (("input", row_in, inputs), ("target", row_out, targets)):
                if len(row) != len(rows[0]):
                    raise InvalidInputError(
                        f"{where}: {len(row)} {label}{'s' if len(row) != 1 else ''}, but line {first_line} "
                        f"has {len(rows[0])}; every line needs the same number"
                    )
        else:
            first_line = number
        inputs.append(row_in)
        targets.append(row_out)
    if not inputs:
        raise InvalidInputError(f"Table: enter at least one sample, one per line, e.g. {TABLE_EXAMPLE}")
    return make_dataset(inputs, targets, name=None)


def _numbers(part: str, where: str) -> list[float]:
    values: list[float] = []
    for word in part.replace(",", " ").split():
        text = word.replace("−", "-")
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(f"{where}: “{word}” is not a number") from None
        if not math.isfinite(value):
            raise InvalidInputError(f"{where}: “{word}” is not a finite number")
        if abs(value) > MAX_ABS_VALUE:
            raise InvalidInputError(f"{where}: {word} is too large; values must lie in [-1e+06, 1e+06]")
        values.append(value)
    return values


def chosen_data(current: Session, values: Mapping[str, str]) -> tuple[Dataset | None, dict[str, str]]:
    """The data the dataset form asks for, or the messages to show next to its fields."""
    choice = values.get("dataset", "")
    if choice == SINGLE:
        return single(current.input, current.target), {}
    if choice in BUILTIN:
        data = builtin(choice)
        problem = misfit(current.arch, data, TITLES[choice])
        return (None, {"dataset": problem}) if problem else (data, {})
    if choice == TABLE:
        try:
            data = parse_table(values.get("table", ""))
        except InvalidInputError as exc:
            return None, {"table": str(exc)}
        problem = misfit(current.arch, data, "The table")
        return (None, {"table": problem}) if problem else (data, {})
    return None, {"dataset": "Choose the single sample, a built-in dataset or your own table"}


async def _form(request: Request) -> tuple[dict[str, str], str | None]:
    """The form's text fields, or why the body cannot be read (too large, malformed)."""
    length = request.headers.get("content-length", "")
    size = pages.whole_number(length)
    if size is not None and size > MAX_FORM_BYTES:
        return {}, f"the form is larger than {MAX_FORM_BYTES // 1024} KB"
    try:
        form = await request.form()
    except HTTPException as exc:
        return {}, f"the form could not be read ({exc.detail})"
    try:
        return {key: value for key, value in form.items() if isinstance(value, str)}, None
    finally:
        await form.close()  # a stray file part would otherwise stay open


def _refuse(
    request: Request, current: Session, view: View, values: Mapping[str, str], errors: dict[str, str]
) -> Response:
    """Show the messages next to their fields (422); nothing has changed."""

    ctx = pages.context(current, view, request=request)
    ctx.update(context(current, view, values=values, errors=errors))
    if is_htmx(request):
        return render_regions(ctx, "panel", (), 422)
    return render_page(ctx, 422)


Change = Callable[[Session], Session]
#: Reads a form: the change to apply, or the messages to show by field.
Reader = Callable[[Session, Mapping[str, str]], tuple[Change | None, dict[str, str]]]


async def _handle(request: Request, store: Store, read: Reader) -> Response:
    """Read the form; refuse it with messages next to the fields, or apply the change atomically."""

    current = await run_in_threadpool(pages.cookie_session, request, store)
    if current is None:
        return pages.lost_session(request)
    values, problem = await _form(request)
    view = pages.view_of(values).but(tab="data", answer="")
    if problem:
        return _refuse(request, current, view, {}, {"table": f"Table: {problem}"})
    change, errors = read(current, values)
    if errors or change is None:
        return _refuse(request, current, view, values, errors)
    return await run_in_threadpool(pages.respond_to_change, request, store, change, DATA_REGIONS, view)


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _read_dataset(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    data, errors = chosen_data(current, values)
    if data is None:
        return None, errors
    chosen = data

    def change(s: Session) -> Session:
        return session.edit(s, dataset=chosen)

    return change, {}


def _read_mode(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    mode = values.get("mode", "")
    if mode not in MODES:
        return None, {"mode": f"Mode: choose {' or '.join(MODES)}"}
    chosen: Mode = "sgd" if mode == "sgd" else "batch"

    def change(s: Session) -> Session:
        return session.edit(s, mode=chosen)

    return change, {}


def _read_sample(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    raw = values.get("sample_index", "").strip()
    count = len(current.data)
    chosen = pages.whole_number(raw)
    if chosen is None or not 0 <= chosen < count:
        return None, {"sample": f"Sample: “{raw}” is not a row of this data (rows 0 to {count - 1})"}
    index = chosen

    def change(s: Session) -> Session:
        return session.edit(s, sample_index=index)

    return change, {}


@router.post("/page/data/dataset")
async def choose_dataset(request: Request, store: Store, _: SameOrigin) -> Response:
    """The single sample, a built-in dataset or the user's table; a misfit is shown, not applied."""
    return await _handle(request, store, _read_dataset)


@router.post("/page/data/mode")
async def choose_mode(request: Request, store: Store, _: SameOrigin) -> Response:
    """SGD (one sample per step) or batch (the mean gradient over every sample)."""
    return await _handle(request, store, _read_mode)


@router.post("/page/data/current")
async def choose_sample(request: Request, store: Store, _: SameOrigin) -> Response:
    """Make one row of the data the current sample (the one the next SGD step uses)."""
    return await _handle(request, store, _read_sample)
