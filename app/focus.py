"""What the last (sub-)step computed, and what the numbers on show are: which layers of units and
weights to highlight, a caption in words, and notes where the numbers are not what they seem (the
activations after an update belong to the weights before it; a batch draws one sample's).

Asked by the diagram, the weight matrix (which layer to open) and the page's status.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.notation import fmt
from app.session import PHASE_TABLE, Session


@dataclass(frozen=True)
class Focus:
    """Which parts to highlight: unit layers and weight layers the last step computed."""

    node_layers: frozenset[int]
    edge_layers: frozenset[int]
    targets: bool
    caption: str


def focus_of(session: Session) -> Focus:
    depth = session.arch.depth
    computed = PHASE_TABLE[session.phase].computed
    fwd, bwd = session.forward, session.backward
    none: frozenset[int] = frozenset()
    if computed == "nothing" or fwd is None:
        return Focus(none, none, False, "Nothing computed yet: press Forward (or Sub-step).")
    if computed == "layer":
        layer = fwd.layers_done
        return Focus(
            frozenset({layer}),
            frozenset({layer - 1}),
            False,
            f"Forward: layer {layer} computed, a({layer}) and h({layer}).",
        )
    # After a coarse step everything is new, so nothing is singled out; a sub-step highlights
    # exactly the part it computed.
    if computed == "loss":
        if session.substep_mode:
            return Focus(frozenset({depth}), none, True, "Forward: the loss L computed from y and t.")
        return Focus(none, none, False, "Forward pass done: every a, every h and the loss.")
    if computed == "delta" and bwd is not None:
        if session.substep_mode or session.phase == "backwarding":
            layer = depth - bwd.layers_done + 1
            return Focus(
                frozenset({layer}),
                frozenset({layer - 1}),
                False,
                f"Backward: δ({layer}) and the gradients of the weights into layer {layer} computed.",
            )
        return Focus(none, none, False, "Backward pass done: every δ and every gradient.")
    if session.substep_mode:
        return Focus(none, frozenset(range(depth)), False, "Update: every weight moved against its gradient.")
    return Focus(none, none, False, "Update done: every weight moved against its gradient (old → new).")


#: After an update, in words (the dashed units, the loss).
STALE_NOTE = "Dashed units: from the forward pass before this update."


def notes_of(session: Session) -> tuple[str, ...]:
    """What the drawn numbers are, where that is not obvious: stale after an update; in batch
    mode, whose activations and δ are drawn and that the gradients are means."""
    notes = []
    if session.phase == "updated":
        notes.append(STALE_NOTE)
    if session.config.mode == "batch" and not session.data.is_single:
        count = len(session.data)
        inputs = ", ".join(fmt(v) for v in session.input)
        notes.append(
            f"Batch of {count}: units show sample {session.sample_index + 1} (x = {inputs}); "
            f"the loss and gradients are means over all {count}."
        )
    return tuple(notes)
