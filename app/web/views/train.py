"""The Train tab's view: the loss curve, the latest training run and the history timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import chart, session
from app.session import Session
from app.web.views.panel import View

#: How often the page asks for a run's progress.
POLL = "500ms"
DEFAULT_EPOCHS = 1000
#: The chart's size in user units: it fills the panel's width.
CHART_WIDTH, CHART_HEIGHT = 480.0, 300.0


@dataclass(frozen=True)
class Timeline:
    """The kept states, for the slider: which one is current and how many there are."""

    #: Kept steps, oldest first (thinned beyond the last 1,000 states).
    steps: tuple[int, ...]
    #: Index in ``steps`` of the current step (the nearest kept one at or before it).
    current: int


def timeline(current: Session) -> Timeline:
    steps = tuple(kept.step for kept in current.history.kept())
    at = max((k for k, step in enumerate(steps) if step <= current.step), default=0)
    return Timeline(steps, at)


def loss_chart(current: Session) -> chart.Chart:
    """The loss curve up to the current step, from the history's envelope (no loss read but the first)."""
    if current.step == 0:
        return chart.build((), width=CHART_WIDTH, height=CHART_HEIGHT)
    ends = (float(current.history.losses(0, 1)[0]), current.recent_losses[-1])
    return chart.build(
        current.history.envelope(current.step), ends=ends, width=CHART_WIDTH, height=CHART_HEIGHT
    )


def context(current: Session, view: View) -> dict[str, Any]:
    """What templates/_train.html needs (the run itself is in the page's context)."""
    return {
        "chart": loss_chart(current),
        "timeline": timeline(current),
        "poll": POLL,
        "default_epochs": DEFAULT_EPOCHS,
        "steps_per_epoch": session.steps_per_epoch(current),
    }
