"""Form fields as the templates draw them (templates/_field.html, the select macro of
templates/_network.html): a name, a label, what to show, and the message at fault if any."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TextField:
    """A text input."""

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
    """A drop-down list."""

    name: str
    label: str
    options: tuple[Option, ...]
    error: str | None


def options(choices: Mapping[str, str], chosen: str) -> tuple[Option, ...]:
    """One option per (value, label) of ``choices``; ``chosen`` is selected."""
    return tuple(Option(value, label, value == chosen) for value, label in choices.items())
