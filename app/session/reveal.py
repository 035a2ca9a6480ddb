"""Predict before reveal: after a step, the numbers it computed stay hidden until the presenter
reveals them, one by one or all at once, so a class can predict them first.

The state is one small value on the session (:class:`~app.session.value.Reveal`): which quantities
were revealed, and where the session stood then. A step moves the session on, so whatever it
computes starts hidden, with nothing to reset. What a step computed comes from the phase table.
Quantities are named as the page selects them: "unit:l,j" (its activation, or its δ once backward
has reached it), "weight:l,i,j" and "bias:l,j" (the gradient, or the new value after update),
"loss".
"""

from __future__ import annotations

from dataclasses import replace

from app.errors import InvalidInputError
from app.session.phases import PHASE_TABLE
from app.session.steps import progress_of
from app.session.value import Reveal, Session


def position(session: Session) -> tuple[int, str, int, int]:
    """Where the session stands: a step, a sub-step or an edit changes it."""
    progress = progress_of(session)
    return (session.step, session.phase, progress.forward_layers, progress.backward_layers)


def _units(session: Session, layers: range) -> set[str]:
    return {f"unit:{l},{j}" for l in layers for j in range(session.arch.layers[l])}


def _parameters(session: Session, layers: range) -> set[str]:
    """The weights into and the biases of each layer l + 1 for l in ``layers``."""
    arch = session.arch
    weights = {
        f"weight:{l},{i},{j}"
        for l in layers
        for i in range(arch.layers[l])
        for j in range(arch.layers[l + 1])
    }
    return weights | {f"bias:{l},{j}" for l in layers for j in range(arch.layers[l + 1])}


def computed(session: Session) -> frozenset[str]:
    """The quantities the last step (or sub-step) computed: what predict-before-reveal hides."""
    depth = session.arch.depth
    fwd, bwd = session.forward, session.backward
    what = PHASE_TABLE[session.phase].computed
    if what == "nothing" or fwd is None:
        return frozenset()
    if what == "layer":
        return frozenset(_units(session, range(fwd.layers_done, fwd.layers_done + 1)))
    if what == "loss":
        return frozenset(
            {"loss"} if session.substep_mode else {"loss", *_units(session, range(1, depth + 1))}
        )
    if what == "delta" and bwd is not None:
        if session.substep_mode or session.phase == "backwarding":
            layer = depth - bwd.layers_done + 1
            return frozenset(
                _units(session, range(layer, layer + 1)) | _parameters(session, range(layer - 1, layer))
            )
        return frozenset(_units(session, range(1, depth + 1)) | _parameters(session, range(depth)))
    return frozenset(_parameters(session, range(depth)))


def predicting(session: Session) -> bool:
    return session.reveal is not None


def hidden(session: Session) -> frozenset[str]:
    """What is hidden now: what the last step computed and has not been revealed."""
    shown = session.reveal
    if shown is None:
        return frozenset()
    if shown.at != position(session):
        return computed(session)
    if shown.everything:
        return frozenset()
    return computed(session) - shown.keys


def set_predicting(session: Session, on: bool) -> Session:
    """Predict before reveal on (what the last step computed is hidden at once) or off."""
    if on == predicting(session):
        return session
    return replace(session, reveal=Reveal(position(session)) if on else None)


def reveal(session: Session, key: str) -> Session:
    """Show one hidden quantity; InvalidInputError when it is not one the last step computed."""
    if session.reveal is None:
        raise InvalidInputError("predict before reveal is off: nothing is hidden")
    if key not in computed(session):
        raise InvalidInputError(f"{key!r} is not a number the last step computed (nothing to reveal)")
    here = position(session)
    before = session.reveal.keys if session.reveal.at == here else frozenset()
    everything = session.reveal.everything and session.reveal.at == here
    return replace(session, reveal=Reveal(here, before | {key}, everything))


def reveal_all(session: Session) -> Session:
    """Show every number the last step computed."""
    if session.reveal is None:
        raise InvalidInputError("predict before reveal is off: nothing is hidden")
    return replace(session, reveal=Reveal(position(session), frozenset(), everything=True))
