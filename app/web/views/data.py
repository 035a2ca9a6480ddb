"""The Data tab's view: the data in use (the article's single sample, a built-in dataset or the
user's own table), the training mode, every sample with the network's current output for it,
and, for a network with two inputs, a decision map per output unit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app import datasets, decision, engine, session
from app.datasets import BUILTIN, DESCRIPTIONS, Dataset, table_text
from app.decision import DecisionMap
from app.engine import Architecture
from app.notation import plural
from app.session import MODES, Mode, Session
from app.web.views.panel import View

#: The choices of the dataset form besides the built-ins.
SINGLE, TABLE = "single", "table"
TITLES: dict[str, str] = {SINGLE: "Single sample", **datasets.TITLES, TABLE: "Your own table"}
MODE_TITLES: dict[str, tuple[str, str]] = {
    "sgd": ("SGD", "one sample per step, in turn"),
    "batch": ("Batch", "every sample at once, the mean gradient"),
}


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
    return f"{TITLES[kind]}, {plural(len(data), 'sample')}"


def widths(data: Dataset) -> tuple[int, int]:
    """Inputs and targets per sample."""
    return int(data.inputs.shape[1]), int(data.targets.shape[1])


def fits(layers: tuple[int, ...], data: Dataset) -> bool:
    return widths(data) == (layers[0], layers[-1])


def sample_words(data: Dataset) -> str:
    """What a sample holds: "2 inputs and 1 target"."""
    width_in, width_out = widths(data)
    return f"{plural(width_in, 'input')} and {plural(width_out, 'target')}"


def network_words(layers: tuple[int, ...]) -> str:
    """What a network takes and gives: "2 inputs and 2 outputs"."""
    return f"{plural(layers[0], 'input')} and {plural(layers[-1], 'output')}"


def need(arch: Architecture, data: Dataset) -> str | None:
    """What ``data`` needs that this network lacks, in a few words; None if it fits."""
    if fits(arch.layers, data):
        return None
    width_in, width_out = widths(data)
    return f"needs {plural(width_in, 'input')} and {plural(width_out, 'output')}"


def misfit(arch: Architecture, data: Dataset, title: str) -> str | None:
    """Why ``data`` cannot train this network, with what to do about it; None if it fits."""
    if fits(arch.layers, data):
        return None
    width_in, width_out = widths(data)
    shape = "-".join(str(n) for n in arch.layers)
    return (
        f"{title} has {sample_words(data)} per sample, but this {shape} network has "
        f"{network_words(arch.layers)}: build a {width_in}-…-{width_out} network in the Network tab"
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
        rows=rows_of(current),
        maps=decision.build(current),
        errors=errors,
    )
    return {"data_tab": tab}


def rows_of(current: Session) -> tuple[Row, ...]:
    """Every sample with the network's output for it now."""
    data = current.data
    outputs = engine.predict(current.arch, current.params, data.inputs)
    upcoming = session.next_sample(current)
    return tuple(
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
