"""The Data tab's routes: its forms change the dataset, the mode and the current sample.

Each is a plain POST (303 back to the page) that htmx turns into a swap of the panel and of the
other regions that show the session; a form that cannot be used is shown again with a message
next to the field at fault (422), and nothing changes. What the tab shows is
:mod:`app.web.views.data`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app import session
from app.datasets import BUILTIN, Dataset, builtin, parse_table, single
from app.errors import InvalidInputError
from app.session import MODES, Mode, Session
from app.web.deps import SameOrigin, Store
from app.web.forms import read_form, whole_number
from app.web.responses import answer_change, page_session, show_tab
from app.web.views import data
from app.web.views.data import SINGLE, TABLE, TITLES
from app.web.views.panel import View

router = APIRouter(include_in_schema=False)

Change = Callable[[Session], Session]
#: Reads a form: the change to apply, or the messages to show by field.
Reader = Callable[[Session, Mapping[str, str]], tuple[Change | None, dict[str, str]]]


def chosen_data(current: Session, values: Mapping[str, str]) -> tuple[Dataset | None, dict[str, str]]:
    """The data the dataset form asks for, or the messages to show next to its fields."""
    choice = values.get("dataset", "")
    if choice == SINGLE:
        return single(current.input, current.target), {}
    if choice in BUILTIN:
        chosen = builtin(choice)
        problem = data.misfit(current.arch, chosen, TITLES[choice])
        return (None, {"dataset": problem}) if problem else (chosen, {})
    if choice == TABLE:
        try:
            chosen = parse_table(values.get("table", ""))
        except InvalidInputError as exc:
            return None, {"table": str(exc)}
        problem = data.misfit(current.arch, chosen, "The table")
        return (None, {"table": problem}) if problem else (chosen, {})
    return None, {"dataset": "Choose the single sample, a built-in dataset or your own table"}


def read_dataset(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    chosen, errors = chosen_data(current, values)
    if chosen is None:
        return None, errors
    dataset = chosen

    def change(s: Session) -> Session:
        return session.edit(s, dataset=dataset)

    return change, {}


def read_mode(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    mode = values.get("mode", "")
    if mode not in MODES:
        return None, {"mode": f"Mode: choose {' or '.join(MODES)}"}
    chosen: Mode = "sgd" if mode == "sgd" else "batch"

    def change(s: Session) -> Session:
        return session.edit(s, mode=chosen)

    return change, {}


def read_sample(current: Session, values: Mapping[str, str]) -> tuple[Change | None, dict[str, str]]:
    raw = values.get("sample_index", "").strip()
    count = len(current.data)
    chosen = whole_number(raw)
    if chosen is None or not 0 <= chosen < count:
        return None, {"sample": f"Sample: “{raw}” is not a row of this data (rows 0 to {count - 1})"}
    index = chosen

    def change(s: Session) -> Session:
        return session.edit(s, sample_index=index)

    return change, {}


def _refuse(
    request: Request, current: Session, view: View, values: Mapping[str, str], errors: dict[str, str]
) -> Response:
    """Show the messages next to their fields (422); nothing has changed."""
    return show_tab(request, current, view, data.context(current, view, values=values, errors=errors), 422)


async def _handle(request: Request, store: Store, read: Reader) -> Response:
    """Read the form; refuse it with messages next to the fields, or apply the change atomically."""
    current = await run_in_threadpool(page_session, request, store)
    form = await read_form(request)
    view = View.parse(form.fields).but(tab="data", answer="")
    if form.problem is not None:
        return _refuse(request, current, view, {}, {"table": f"Table: {form.problem}"})
    change, errors = read(current, form.fields)
    if errors or change is None:
        return _refuse(request, current, view, form.fields, errors)
    return await run_in_threadpool(answer_change, request, store, change, view, own="panel")


@router.post("/page/data/dataset")
async def choose_dataset(request: Request, store: Store, _: SameOrigin) -> Response:
    """The single sample, a built-in dataset or the user's table; a misfit is shown, not applied."""
    return await _handle(request, store, read_dataset)


@router.post("/page/data/mode")
async def choose_mode(request: Request, store: Store, _: SameOrigin) -> Response:
    """SGD (one sample per step) or batch (the mean gradient over every sample)."""
    return await _handle(request, store, read_mode)


@router.post("/page/data/current")
async def choose_sample(request: Request, store: Store, _: SameOrigin) -> Response:
    """Make one row of the data the current sample (the one the next SGD step uses)."""
    return await _handle(request, store, read_sample)
