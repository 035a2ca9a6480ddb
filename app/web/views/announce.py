"""What a screen reader hears after each step: one sentence, said by a live region that stays in
place while the regions around it are redrawn (the page's and the follow view's)."""

from __future__ import annotations

from app.focus import focus_of
from app.notation import fmt
from app.session import PHASE_TABLE, Session


def announcement(current: Session) -> str:
    """What the last step computed, the loss on show and what comes next, e.g. "Update 0. Forward
    pass done: every a, every h and the loss. Loss L = 0.2984. Next: backward."."""
    loss = current.forward.loss if current.forward is not None else None
    said = f"Update {current.step}. {focus_of(current).caption}"
    if loss is not None:
        said += f" Loss L = {fmt(loss)}."
    return f"{said} Next: {PHASE_TABLE[current.phase].next_step}."
