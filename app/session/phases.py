"""The phase table: every rule that depends on where a session stands in its step.

The steps (app/session/steps.py), the page's buttons and stages, the API's next step, the
derivations and the diagram's highlight all ask :data:`PHASE_TABLE`; a new phase is a new row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Phase = Literal["idle", "forwarding", "forward", "backwarding", "backward", "updated"]
PHASES: tuple[Phase, ...] = get_args(Phase)
Mode = Literal["sgd", "batch"]
MODES: tuple[Mode, ...] = get_args(Mode)


# --------------------------------------------------------------------------------------------
# The phase table: every rule that depends on the phase, asked by everything that needs one
# (the steps below, the page's buttons and stages, the API's next step, the derivations, the
# diagram's highlight). A new phase is a new row here.
# --------------------------------------------------------------------------------------------

Step = Literal["forward", "backward", "update"]
#: Where one of the three coarse steps stands: "done", "running" (part-way, in sub-steps),
#: "next" or "todo".
Stage = Literal["done", "running", "next", "todo"]
#: What the step that ended in a phase computed: nothing, one more layer of the forward pass,
#: the loss, δ of one more layer going back, or the update.
Computed = Literal["nothing", "layer", "loss", "delta", "update"]


@dataclass(frozen=True)
class PhaseRule:
    """What a phase allows, and how the app speaks of it."""

    #: The coarse step that comes next.
    next_step: Step
    #: Where forward, backward and update stand, in that order.
    stages: tuple[Stage, Stage, Stage]
    #: Why backward is refused in this phase; None where it is allowed.
    backward_refusal: str | None
    #: Why update is refused in this phase; None where it is allowed.
    update_refusal: str | None
    #: What a gradient still needs before it exists, in words; None once backward has begun.
    gradient_needs: str | None
    #: Whether the session's backward trace belongs to this phase (its δ and gradients count).
    shows_backward: bool
    #: What the step that ended in this phase computed (what a sub-step highlights).
    computed: Computed
    #: When the numbers on show were computed, for titles: "after forward".
    words: str
    #: Whether the next forward pass moves on to the next sample (in SGD mode).
    advances_sample: bool


_RUN_FORWARD_FIRST = "run forward, then backward, first"

PHASE_TABLE: dict[Phase, PhaseRule] = {
    "idle": PhaseRule(
        next_step="forward",
        stages=("next", "todo", "todo"),
        backward_refusal="backward needs the forward pass: run forward first",
        update_refusal="update needs the gradients: run forward, then backward, first",
        gradient_needs=_RUN_FORWARD_FIRST,
        shows_backward=False,
        computed="nothing",
        words="before any step",
        advances_sample=False,
    ),
    "forwarding": PhaseRule(
        next_step="forward",
        stages=("running", "todo", "todo"),
        backward_refusal="the forward pass is not finished: run forward (or the remaining sub-steps) first",
        update_refusal="update needs the gradients: finish forward, then run backward, first",
        gradient_needs=(
            "finish the forward pass (forward, or the remaining sub-steps), then run backward, first"
        ),
        shows_backward=False,
        computed="layer",
        words="during the forward pass",
        advances_sample=False,
    ),
    "forward": PhaseRule(
        next_step="backward",
        stages=("done", "next", "todo"),
        backward_refusal=None,
        update_refusal="update needs the gradients: run backward first",
        gradient_needs="run backward first",
        shows_backward=False,
        computed="loss",
        words="after forward",
        advances_sample=False,
    ),
    "backwarding": PhaseRule(
        next_step="backward",
        stages=("done", "running", "todo"),
        backward_refusal=None,
        update_refusal="the backward pass is not finished: run backward (or the remaining sub-steps) first",
        gradient_needs=None,
        shows_backward=True,
        computed="delta",
        words="during the backward pass",
        advances_sample=False,
    ),
    "backward": PhaseRule(
        next_step="update",
        stages=("done", "done", "next"),
        backward_refusal="backward is already done: update comes next (or forward to start again)",
        update_refusal=None,
        gradient_needs=None,
        shows_backward=True,
        computed="delta",
        words="after backward",
        advances_sample=False,
    ),
    "updated": PhaseRule(
        next_step="forward",
        stages=("done", "done", "done"),
        backward_refusal="backward needs a forward pass with the new weights: run forward first",
        update_refusal="this update is done: run forward, then backward, before the next update",
        gradient_needs=_RUN_FORWARD_FIRST,
        shows_backward=True,
        computed="update",
        words="after update",
        advances_sample=True,
    ),
}
