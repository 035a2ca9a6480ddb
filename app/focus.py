"""What the last (sub-)step computed, and what the numbers on show are: which layers of units and
weights to highlight, a caption in words, notes where the numbers are not what they seem (the
activations after an update belong to the weights before it; a batch draws one sample's), and the
numbers themselves as one snapshot (:class:`Shown`).

Asked by the diagram, the weight matrix (which layer to open) and the page's status.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine import Array
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


@dataclass(frozen=True)
class UnitValues:
    """What the traces and the parameters hold for one unit (None where not computed)."""

    activation: float | None
    pre_activation: float | None
    delta: float | None
    bias: float | None
    old_bias: float | None


Row = list[float] | None


@dataclass(frozen=True)
class Shown:
    """The session's numbers the diagram shows, as Python lists read once per drawing (indexing
    numpy arrays one number at a time costs more than the drawing's arithmetic)."""

    #: By layer of units: h (x for the inputs) of the sample shown, a, δ, b, b before the update.
    activations: list[Row]
    pre_activations: list[Row]
    deltas: list[Row]
    biases: list[Row]
    old_biases: list[Row]
    #: By weight matrix, [i][j]: w, w before the update, ∂L/∂w.
    weights: list[list[list[float]]]
    old_weights: list[list[list[float]]] | None
    gradients: list[list[list[float]] | None]

    @classmethod
    def of(cls, session: Session) -> Shown:
        fwd, row = session.forward, session.display_row
        bwd = session.backward if PHASE_TABLE[session.phase].shows_backward else None
        previous = session.previous if session.phase == "updated" else None
        depth = session.arch.depth

        def rows(arrays: tuple[Array | None, ...] | None, offset: int) -> list[Row]:
            found: list[Row] = [None] * offset
            for k in range(depth + 1 - offset):
                array = arrays[k] if arrays is not None else None
                found.append(array[row].tolist() if array is not None else None)
            return found

        return cls(
            activations=rows(fwd.activations if fwd is not None else None, 0),
            pre_activations=rows(fwd.pre_activations if fwd is not None else None, 1),
            deltas=rows(session.backward.deltas if session.backward is not None else None, 1),
            biases=[None, *(b.tolist() for b in session.params.biases)],
            old_biases=[None, *(b.tolist() for b in previous.biases)] if previous else [None] * (depth + 1),
            weights=[w.tolist() for w in session.params.weights],
            old_weights=[w.tolist() for w in previous.weights] if previous is not None else None,
            gradients=[g.tolist() if g is not None else None for g in bwd.weight_gradients]
            if bwd is not None
            else [None] * depth,
        )

    def unit(self, l: int, j: int) -> UnitValues:
        def at(rows: list[Row]) -> float | None:
            row = rows[l]
            return row[j] if row is not None else None

        return UnitValues(
            at(self.activations),
            at(self.pre_activations),
            at(self.deltas),
            at(self.biases),
            at(self.old_biases),
        )
