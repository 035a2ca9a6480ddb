"""The page's view: everything templates/page.html shows, from a session and the panel's view.

The status (stages, loss, next step), the controls (which buttons work now), the sample form,
the diagram in both orientations, and the open tab's own view (:mod:`app.web.views.data`,
``train``, ``network``, or the Working and Gradients tabs of :mod:`app.web.views.panel`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app import figure, session
from app.diagram_geometry import ORIENTATIONS, Orientation
from app.figure import SHOWS, Figure, Show
from app.session import PHASE_TABLE, Session
from app.training import RunStatus
from app.web.views import data, network, panel, train
from app.web.views.announce import announcement
from app.web.views.fields import TextField
from app.web.views.panel import View

#: The views of the tabs that add to the page's context when they are open.
TAB_VIEWS: dict[str, Callable[[Session, View], dict[str, Any]]] = {
    "data": data.context,
    "train": train.context,
    "network": network.context,
}


@dataclass(frozen=True)
class Stage:
    name: str
    state: str  # "done", "running", "next", "todo"


def stages(current: Session) -> tuple[Stage, ...]:
    order = PHASE_TABLE[current.phase].stages
    return tuple(
        Stage(name, state) for name, state in zip(("Forward", "Backward", "Update"), order, strict=True)
    )


def allowed(current: Session) -> dict[str, bool]:
    """Which buttons work now; the others are disabled."""
    rule = PHASE_TABLE[current.phase]
    return {
        "forward": True,
        "backward": rule.backward_refusal is None,
        "update": rule.update_refusal is None,
        "step": True,
        "substep": True,
        "reset": True,
        "undo": current.can_undo,
    }


def sample_fields(
    current: Session, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> tuple[tuple[TextField, ...], tuple[TextField, ...], TextField]:
    """The sample form's inputs, targets and learning rate: the session's numbers, or what was
    submitted with the messages at fault."""
    values, errors = values or {}, errors or {}

    def make(name: str, label: str, value: float) -> TextField:
        return TextField(name, label, values.get(name, repr(value)), errors.get(name))

    inputs = tuple(make(f"x{i + 1}", f"x{i + 1}", v) for i, v in enumerate(current.input))
    targets = tuple(make(f"t{j + 1}", f"t{j + 1}", v) for j, v in enumerate(current.target))
    return inputs, targets, make("eta", "η", current.config.learning_rate)


#: The regions of templates/page.html (see app/web/templating.py), for :func:`context`.
REGIONS = ("diagram", "status", "controls", "sample", "panel", "dataset", "announce", "follow")


def figure_of(current: Session, view: View, orientations: Sequence[Orientation] = ORIENTATIONS) -> Figure:
    """The figure the view asks for, with the drawings of ``orientations`` only."""
    layer = int(view.layer) if view.layer else None
    show: Show = view.show if view.show in SHOWS else "auto"
    return figure.build(current, show=show, layer=layer, names=view.names, orientations=orientations)


def context(
    current: Session,
    view: View | None = None,
    *,
    run: RunStatus | None = None,
    version: int = 0,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    confirm: str | None = None,
    regions: Collection[str] | None = None,
    orientations: Sequence[Orientation] = ORIENTATIONS,
) -> dict[str, Any]:
    """What templates/page.html needs: for the whole page, or (``regions``) only for the regions an
    answer carries, so a step builds nothing it does not send. ``run``: the session's latest
    training run (the Train tab shows its progress); ``version``: the store's stamp of the session
    (what the watch compares); ``values`` and ``errors``: a refused sample form; ``notice``: why a
    step was refused; ``confirm``: a step that asks first ("reset"); ``orientations``: the
    drawings the page shows (an htmx request says which one its screen uses; a whole page carries
    both)."""
    view = view or View()
    wanted = set(REGIONS if regions is None else regions)
    found: dict[str, Any] = {
        "s": current,
        "view": view,
        "tabs": panel.TABS,
        "confirm": confirm,
        "run": run,
        "notice": notice,
        "form_error": bool(errors),
        "next_step": PHASE_TABLE[current.phase].next_step,
        "stale": current.phase == "updated",
    }
    if wanted & {"panel", "dataset"}:
        tab = TAB_VIEWS.get(view.tab)
        found["work"] = panel.work(current, view) if view.tab == "work" else None
        found["gradients"] = panel.gradients(current) if view.tab == "gradients" else None
        # Each of these tabs adds what its template needs (only when it is open).
        found.update(tab(current, view) if tab is not None else {})
    if "diagram" in wanted:
        found["figure"] = figure_of(current, view, orientations)
    if "status" in wanted:
        found["stages"] = stages(current)
        # What the page's watch sends back: the store's version of the session, which changes with
        # every change, so a watch that finds it unchanged answers 204 without loading anything.
        found["fingerprint"] = str(version)
    if "announce" in wanted:
        found["announcement"] = announcement(current)
    if "controls" in wanted:
        # Not the API's state_of(): that copies the whole loss history, which the page never shows.
        found["substep"] = session.substep_position(current)
        found["allowed"] = allowed(current)
    if "sample" in wanted:
        found["inputs"], found["targets"], found["eta"] = sample_fields(current, values, errors)
    return found
