"""The Network tab's view: the presets, the architecture form (filled with the current network, or
with what was submitted and the messages at fault), download, import and the share link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app import datasets, share
from app.datasets import BUILTIN
from app.engine import ACTIVATIONS, LOSSES
from app.errors import TooBigToShareError
from app.notation import plural
from app.presets import PRESETS, Preset
from app.session import Session
from app.web.views.fields import SelectField, TextField, options
from app.web.views.panel import View

ACTIVATION_TITLES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "linear": "linear"}
LOSS_TITLES = {"l2": "L2: ½Σ(y − t)²", "bce": "cross-entropy (sigmoid output)"}
#: The data choices of the architecture form besides the built-ins.
KEEP, SINGLE = "current", "single"


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
    #: Where the whole session downloads as a JSON file ("" before it is kept: nothing to download).
    export_url: str
    #: The share link, once asked for (it needs the request's host).
    share: ShareLink | None
    #: Which start waits for a yes: "preset:<name>" or "create" (None when nothing is asked).
    confirm: str | None = None


def tab_view(values: Mapping[str, str]) -> View:
    """The Network tab, with nothing selected: what its forms show after they are sent."""
    return View.parse(values).but(tab="network", select="", answer="")


def share_link(base_url: str, current: Session) -> ShareLink:
    """The link that opens a copy of ``current`` (configuration and weights) on the server at
    ``base_url``, or why there is none."""
    try:
        token = share.encode(current)
    except TooBigToShareError as exc:
        return ShareLink(None, None, str(exc))
    path = f"/share/{token}"
    return ShareLink(base_url.rstrip("/") + path, path, None)


def data_choices(current: Session) -> dict[str, str]:
    """The data a new network can start with: the current data, one sample, or a built-in."""
    data = current.data
    if data.is_single:
        keep = "Keep the current sample"
    else:
        title = datasets.TITLES.get(data.name or "", "your table")
        keep = f"Keep the current data ({title}, {plural(len(data), 'sample')})"
    choices = {KEEP: keep, SINGLE: "One sample: the current one"}
    for name, dataset in BUILTIN.items():
        shape = f"{dataset.inputs.shape[1]} in, {dataset.targets.shape[1]} out"
        choices[name] = f"{datasets.TITLES[name]}: {plural(len(dataset), 'sample')}, {shape}"
    return choices


def context(
    current: Session,
    view: View,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    share_link: ShareLink | None = None,
    confirm: str | None = None,
) -> dict[str, Any]:
    """What templates/_network.html needs, added to the page's context when the tab is open;
    ``confirm``: the start that asks first (see :class:`NetworkTab`)."""
    values, errors = values or {}, errors or {}
    arch, config = current.arch, current.config

    def text(name: str, label: str, default: str) -> TextField:
        return TextField(name, label, values.get(name, default), errors.get(name))

    def select(name: str, label: str, choices: Mapping[str, str], default: str) -> SelectField:
        return SelectField(name, label, options(choices, values.get(name, default)), errors.get(name))

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
        export_url=f"/api/sessions/{current.id}/export" if current.id else "",
        share=share_link,
        confirm=confirm,
    )
    return {"network_tab": tab}
