"""Training data: the single sample of the article, built-in datasets, and user-entered tables.

A user's table is text, one sample per line: the inputs, a ``;``, the targets (:func:`parse_table`,
and :func:`table_text` back).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.engine import Array, check_finite
from app.errors import InvalidInputError
from app.limits import MAX_SAMPLES, MAX_TABLE_CHARS, VALUE
from app.notation import plural, read_number

#: The default sample: the inputs and targets of Matt Mazur's well-known worked example.
DEFAULT_INPUT = (0.05, 0.10)
DEFAULT_TARGET = (0.01, 0.99)


@dataclass(frozen=True)
class Dataset:
    """Samples the network is trained on; a single sample is a dataset of one with no name."""

    #: A built-in name ("xor"), or None for the session's own sample or a user table.
    name: str | None
    #: Inputs, one row per sample, shape (n, layers[0]).
    inputs: Array
    #: Targets, one row per sample, shape (n, layers[-1]).
    targets: Array

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def is_single(self) -> bool:
        """True for the article's setting: one sample, not a named or entered dataset."""
        return self.name is None and len(self) == 1

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "inputs": self.inputs.tolist(),
            "targets": self.targets.tolist(),
        }


def _table(
    name: str | None, inputs: Sequence[Sequence[float]], targets: Sequence[Sequence[float]]
) -> Dataset:
    return Dataset(name, np.array(inputs, dtype=np.float64), np.array(targets, dtype=np.float64))


def single(input_: Sequence[float], target: Sequence[float]) -> Dataset:
    """The article's setting: one input and its target."""
    return make_dataset([list(input_)], [list(target)], name=None)


def make_dataset(
    inputs: Sequence[Sequence[float]],
    targets: Sequence[Sequence[float]],
    name: str | None = None,
) -> Dataset:
    """A dataset from a user's table, checked: same row count, equal row widths, finite, capped."""
    if len(inputs) == 0:
        raise InvalidInputError("dataset: needs at least one sample")
    if len(inputs) != len(targets):
        raise InvalidInputError(
            f"dataset: {len(inputs)} input rows but {len(targets)} target rows; give one target row per input"
        )
    if len(inputs) > MAX_SAMPLES:
        raise InvalidInputError(f"dataset: at most {MAX_SAMPLES} samples, got {len(inputs)}")
    for label, rows in (("inputs", inputs), ("targets", targets)):
        widths = {len(row) for row in rows}
        if len(widths) != 1 or 0 in widths:
            raise InvalidInputError(
                f"dataset.{label}: every row must have the same, non-zero number of values"
            )
    try:
        data = _table(name, inputs, targets)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "dataset: every value must be a number (one row of numbers per sample)"
        ) from None
    for label, array in (("inputs", data.inputs), ("targets", data.targets)):
        if array.ndim != 2:
            raise InvalidInputError(f"dataset.{label}: each row must be a flat list of numbers")
    check_finite("dataset.inputs", data.inputs)
    check_finite("dataset.targets", data.targets)
    return data


def _blobs() -> Dataset:
    # Two Gaussian clusters, fixed by the seed so every session sees the same points.
    rng = np.random.default_rng(7)
    a = rng.normal((-1.0, -1.0), 0.45, size=(12, 2))
    b = rng.normal((1.0, 1.0), 0.45, size=(12, 2))
    inputs = np.round(np.vstack([a, b]), 3).astype(np.float64)
    targets = np.array([[0.0]] * 12 + [[1.0]] * 12)
    return Dataset("blobs", inputs, targets)


def _circle() -> Dataset:
    # Points on a ring of radius 0.5 (class 1) and on a ring of radius 1.5 (class 0).
    angles = np.linspace(0.0, 2.0 * np.pi, 12, endpoint=False)
    inner = 0.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    outer = 1.5 * np.column_stack([np.cos(angles + 0.26), np.sin(angles + 0.26)])
    inputs = np.round(np.vstack([inner, outer]), 3).astype(np.float64)
    targets = np.array([[1.0]] * 12 + [[0.0]] * 12)
    return Dataset("circle", inputs, targets)


_LOGIC_INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]

BUILTIN: dict[str, Dataset] = {
    "xor": _table("xor", _LOGIC_INPUTS, [[0.0], [1.0], [1.0], [0.0]]),
    "and": _table("and", _LOGIC_INPUTS, [[0.0], [0.0], [0.0], [1.0]]),
    "or": _table("or", _LOGIC_INPUTS, [[0.0], [1.0], [1.0], [1.0]]),
    "blobs": _blobs(),
    "circle": _circle(),
}

#: The name of each built-in dataset as the page writes it.
TITLES: dict[str, str] = {"xor": "XOR", "and": "AND", "or": "OR", "blobs": "Blobs", "circle": "Circle"}
#: One line on each built-in dataset, for the page's picker and the API docs.
DESCRIPTIONS: dict[str, str] = {
    "xor": "XOR of two bits: not linearly separable, needs the hidden layer",
    "and": "AND of two bits: linearly separable",
    "or": "OR of two bits: linearly separable",
    "blobs": "two Gaussian clusters of 12 points each",
    "circle": "a ring of 12 points inside a ring of 12 others",
}


def builtin(name: str) -> Dataset:
    """A built-in dataset by name."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise InvalidInputError(
            f"dataset: unknown built-in dataset {name!r}; choose one of {', '.join(BUILTIN)}"
        ) from None


# --------------------------------------------------------------------------------------------
# The table format
# --------------------------------------------------------------------------------------------

TABLE_EXAMPLE = "0 1 ; 1"


def _is_sample_line(line: str) -> bool:
    return bool(line) and not line.startswith("#")


def parse_table(text: str) -> Dataset:
    """A user's table: one sample per line, the inputs, a ';', the targets.

    Numbers are separated by spaces or commas; blank lines and lines starting with '#' are
    skipped. Raises InvalidInputError with a message that names the first line at fault.
    """
    if len(text) > MAX_TABLE_CHARS:
        raise InvalidInputError(f"Table: at most {MAX_TABLE_CHARS} characters, got {len(text)}")
    lines = [(number, raw.strip()) for number, raw in enumerate(text.splitlines(), start=1)]
    samples = [(number, line) for number, line in lines if _is_sample_line(line)]
    inputs: list[list[float]] = []
    targets: list[list[float]] = []
    for count, (number, line) in enumerate(samples):
        if count == MAX_SAMPLES:
            raise InvalidInputError(f"Table: at most {MAX_SAMPLES} samples, got {len(samples)}")
        row_in, row_out = _table_row(line, f"Table, line {number}")
        if inputs:
            _check_widths(number, samples[0][0], (row_in, row_out), (inputs[0], targets[0]))
        inputs.append(row_in)
        targets.append(row_out)
    if not inputs:
        raise InvalidInputError(f"Table: enter at least one sample, one per line, e.g. {TABLE_EXAMPLE}")
    return make_dataset(inputs, targets, name=None)


def _check_widths(
    number: int, first_line: int, row: tuple[list[float], list[float]], first: tuple[list[float], list[float]]
) -> None:
    """Every line of a table has as many inputs, and as many targets, as the first."""
    for label, values, expected in (("input", row[0], first[0]), ("target", row[1], first[1])):
        if len(values) != len(expected):
            raise InvalidInputError(
                f"Table, line {number}: {plural(len(values), label)}, but line {first_line} "
                f"has {len(expected)}; every line needs the same number"
            )


def _table_row(line: str, where: str) -> tuple[list[float], list[float]]:
    """The inputs and the targets of one line of a table."""
    parts = line.split(";")
    if len(parts) != 2:
        raise InvalidInputError(
            f"{where}: separate the inputs from the targets with one ';' (e.g. {TABLE_EXAMPLE})"
        )
    row_in, row_out = (_table_numbers(part, where) for part in parts)
    if not row_in or not row_out:
        raise InvalidInputError(f"{where}: needs at least one input before the ';' and one target after it")
    return row_in, row_out


def _table_numbers(part: str, where: str) -> list[float]:
    values: list[float] = []
    for word in part.replace(",", " ").split():
        value = read_number(word)
        if value is None:
            raise InvalidInputError(f"{where}: “{word}” is not a number")
        if not math.isfinite(value):
            raise InvalidInputError(f"{where}: “{word}” is not a finite number")
        if value not in VALUE:
            raise InvalidInputError(f"{where}: {word} is too large; values must lie in {VALUE}")
        values.append(value)
    return values


def _table_number(value: float) -> str:
    """A value as the table field shows it: integers without a decimal point, others in full."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def table_text(data: Dataset) -> str:
    """The data in the table format: one sample per line, ``inputs ; targets``."""
    return "\n".join(
        " ".join(_table_number(float(v)) for v in x) + " ; " + " ".join(_table_number(float(v)) for v in t)
        for x, t in zip(data.inputs, data.targets, strict=True)
    )
