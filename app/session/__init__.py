"""A session: one network being taught, as one immutable value, and the functions that step it.

Every function here takes a :class:`Session` and returns a new one; nothing is changed in place, so
a step that fails (a phase error, a diverging update) leaves the stored session exactly as it was.

The phase machine (its rules are one table, :data:`PHASE_TABLE`)::

    idle ──forward──▶ forward ──backward──▶ backward ──update──▶ updated
      └─ sub-steps: forwarding (layer by layer) … forward … backwarding (δ layer by layer) … ┘

``forward`` is allowed from any phase (it recomputes); ``backward`` needs a finished forward pass;
``update`` needs a finished backward pass. Any edit clears the traces and returns to ``idle``.

Traces are derived data: they are recomputed from the parameters and the phase when a session is
loaded (see :func:`replay`), so storage and export hold only what cannot be recomputed. What grows
with training (every loss, the kept states for undo) is the session's :class:`~app.history.History`,
stored apart from the rest so that a step costs what the network costs, not what the history does.

The package: ``phases`` (the table), ``value`` (the session), ``steps`` (creating, the phase machine,
sub-steps, replay), ``changes`` (training, undo and restore, reset, edits) and ``reveal`` (predict
before reveal); everything is imported from here.
"""

from __future__ import annotations

from app.session.changes import edit, reset, restore, run_steps, steps_per_epoch, train, undo
from app.session.phases import (
    MODES,
    PHASE_TABLE,
    PHASES,
    Computed,
    Mode,
    Phase,
    PhaseRule,
    Stage,
    Step,
)
from app.session.reveal import computed, hidden, position, predicting, reveal, reveal_all, set_predicting
from app.session.steps import (
    Progress,
    SubStep,
    batch_of,
    create,
    describe_substep,
    next_sample,
    progress_of,
    replay,
    resolve_dataset,
    run_backward,
    run_forward,
    run_step,
    run_substep,
    run_update,
    substep_position,
)
from app.session.value import DEFAULT_LEARNING_RATE, DEFAULT_SEED, Config, Origin, Reveal, Session

__all__ = [
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_SEED",
    "MODES",
    "PHASES",
    "PHASE_TABLE",
    "Computed",
    "Config",
    "Mode",
    "Origin",
    "Phase",
    "PhaseRule",
    "Progress",
    "Reveal",
    "Session",
    "Stage",
    "Step",
    "SubStep",
    "batch_of",
    "computed",
    "create",
    "describe_substep",
    "edit",
    "hidden",
    "next_sample",
    "position",
    "predicting",
    "progress_of",
    "replay",
    "reset",
    "resolve_dataset",
    "restore",
    "reveal",
    "reveal_all",
    "run_backward",
    "run_forward",
    "run_step",
    "run_steps",
    "run_substep",
    "run_update",
    "set_predicting",
    "steps_per_epoch",
    "substep_position",
    "train",
    "undo",
]
