"""The page's view: everything templates/page.html shows, from a session and the panel's view.

The status (stages, loss, next step), the controls (which buttons work now), the sample form,
the diagram in both orientations, and the open tab's own view (:mod:`app.web.views.data`,
``train``, ``network``, or the Working and Gradients tabs of :mod:`app.web.views.panel`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app import diagram, session
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
) -> dict[str, Any]:
    """What templates/page.html needs. ``run``: the session's latest training run (the Train tab
    shows its progress); ``version``: the store's stamp of the session (what the watch
    compares); ``values`` and ``errors``: a refused sample form; ``notice``: why a step
    was refused; ``confirm``: a step that asks first ("reset")."""
    view = view or View()
    tab = TAB_VIEWS.get(view.tab)
    inputs, targets, eta = sample_fields(current, values, errors)
    return {
        "s": current,
        "view": view,
        "tabs": panel.TABS,
        "work": panel.work(current, view) if view.tab == "work" else None,
        "gradients": panel.gradients(current) if view.tab == "gradients" else None,
        # Each of these tabs adds what its template needs (only when it is open).
        **(tab(current, view) if tab is not None else {}),
        # Not the API's state_of(): that copies the whole loss history, which the page never shows.
        "substep": session.substep_position(current),
        "d": diagram.build(current),
        "dp": diagram.build(current, "portrait"),
        "stages": stages(current),
        "allowed": allowed(current),
        "next_step": PHASE_TABLE[current.phase].next_step,
        "inputs": inputs,
        "targets": targets,
        "eta": eta,
        "form_error": bool(errors),
        "notice": notice,
        "confirm": confirm,
        # What the page's watch sends back: the store's version of the session, which changes with
        # every change, so a watch that finds it unchanged answers 204 without loading anything.
        "fingerprint": str(version),
        "announcement": announcement(current),
        "run": run,
    }
