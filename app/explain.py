"""Show the working: how every number of a session follows from MATH.md, with the numbers substituted.

:func:`explain` answers "where does this number come from?" for one quantity in the session's current
phase: a unit (its activation after the forward pass, its δ once the backward pass has reached it),
a weight or a bias (its gradient after the backward pass, its new value after the update) or the
loss. The answer is a :class:`Derivation`: lines of working, each written three ways (symbols,
numbers, result) in plain text and in MathML, the numbers that were substituted, and the result.

The result of a derivation is always the engine's own number, the very float in the trace or the
parameters, never a recomputation; the working beside it is rounded for reading (``notation.fmt``).
The lines come from :mod:`app.chainrule`, written out by :mod:`app.mathtext`; which quantity a
request names is :mod:`app.quantity`; check my answer and the gradient check are :mod:`app.answers`
and :mod:`app.gradcheck`.

This module knows nothing of HTTP; the API and the page render the same objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.chainrule import Factor, Net, delta_lines, forward_lines, mean_line, net_of, product, update_line
from app.errors import NothingComputedError
from app.mathtext import (
    HALF,
    Equation,
    Line,
    Name,
    Op,
    Part,
    Parts,
    Pow,
    Sum,
    Word,
    mathml_table,
    name_text,
    named,
    named_values,
    partial,
)
from app.notation import bias_symbol, unit_symbol, weight_symbol
from app.quantity import Kind, check_index
from app.session import PHASE_TABLE, Phase, Session


@dataclass(frozen=True)
class Term:
    """One number substituted into the working."""

    #: Its name in the article's plain-text notation: "y1", "t1", "u21", "δ(2)1", "w(2)13", "η".
    symbol: str
    #: Its value, full precision (the engine's float).
    value: float


@dataclass(frozen=True)
class Derivation:
    """The working behind one quantity of a session, in the session's current phase."""

    #: What is explained: "unit", "weight", "bias" or "loss".
    kind: Kind
    #: Its 0-based index as in MATH.md: (l, j) for a unit or a bias, (l, i, j) for a weight, () for L.
    index: tuple[int, ...]
    #: The quantity the derivation arrives at, in plain text: "h1", "δ(2)1", "∂L/∂u21", "u21", "L".
    quantity: str
    #: One sentence in words: "Gradient of output weight u21 (after backward)".
    title: str
    #: The session's phase the derivation belongs to.
    phase: Phase
    #: The lines of working, in order; the last one arrives at ``result``.
    equations: tuple[Equation, ...]
    #: Every number substituted, once each, in order of first appearance.
    terms: tuple[Term, ...]
    #: The engine's value of ``quantity``: exactly the float in the trace or the parameters.
    result: float
    #: All lines as one ``<math display="block">`` with an ``<mtable>``, one row per line.
    mathml: str


def derivation(
    kind: Kind, index: tuple[int, ...], quantity: str, title: str, phase: Phase, lines: Sequence[Line]
) -> Derivation:
    terms: dict[str, Term] = {}
    for line in lines:
        for val in named_values(line.expr):
            terms.setdefault(val.name, Term(val.name, val.value))
    return Derivation(
        kind=kind,
        index=index,
        quantity=quantity,
        title=title,
        phase=phase,
        equations=tuple(line.equation() for line in lines),
        terms=tuple(terms.values()),
        result=lines[-1].result,
        mathml=mathml_table(lines),
    )


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


def _explain_unit(session: Session, layer: int, j: int) -> Derivation:
    symbol = unit_symbol(layer, j, len(session.arch.layers)).text
    if session.phase == "idle" or session.forward is None:
        raise NothingComputedError(
            f"nothing has been computed yet: {symbol} comes from the forward pass, so run forward first"
        )
    net = net_of(session)
    phase = session.phase
    index = (layer, j)
    if layer == 0:
        x = net.h(0, j)
        line = Line((net.unit(0, j),), (x,), x.value, note="the input is given")
        return derivation("unit", index, symbol, f"Input {symbol} (given)", phase, [line])
    if net.bwd is not None and net.bwd.deltas[layer - 1] is not None:
        lines, factors, note = delta_lines(net, layer, j)
        delta = net.delta(layer, j)
        result = float(net.backward().delta(layer)[net.row, j])
        lines.append(Line((delta,), product(factors), result, note=note))
        title = f"δ = ∂L/∂a of {net.role(layer)} {symbol} ({PHASE_TABLE[phase].words})"
        return derivation("unit", index, name_text(delta), title, phase, lines)
    if net.fwd.activations[layer] is None:
        raise NothingComputedError(
            f"{symbol} is computed when the forward pass reaches layer {layer}: "
            "run forward (or the next sub-step) first"
        )
    return derivation(
        "unit",
        index,
        symbol,
        f"Activation of {net.role(layer)} {symbol} ({PHASE_TABLE[phase].words})",
        phase,
        forward_lines(net, layer, j),
    )


# --------------------------------------------------------------------------------------------
# Weights and biases
# --------------------------------------------------------------------------------------------


def _gradient_missing(session: Session, what: str, layer: int) -> NothingComputedError:
    step = PHASE_TABLE[session.phase].gradient_needs
    if step is None:
        return NothingComputedError(
            f"the gradient of {what} comes when the backward pass reaches layer {layer}: "
            "run backward (or the next sub-step) first"
        )
    return NothingComputedError(f"the gradient of {what} comes from the backward pass: {step}")


def _net_with_gradients(session: Session, what: str, l: int) -> Net:
    """The traces, once the backward pass has computed the gradients of weight layer ``l`` (its
    weights' and biases' together); else NothingComputedError saying what to run first."""
    if session.phase == "idle" or session.forward is None:
        raise _gradient_missing(session, what, l + 1)
    net = net_of(session)
    if net.bwd is None or net.bwd.weight_gradients[l] is None:
        raise _gradient_missing(session, what, l + 1)
    return net


def _gradient_derivation(
    session: Session,
    net: Net,
    quantity: tuple[Kind, tuple[int, ...], Name],
    what: str,
    gradient: float,
    change: tuple[float, float],
    lines: list[Line],
) -> Derivation:
    """The working of a parameter's gradient; after the update, the update line and the new
    value too. ``quantity``: its kind, index and name; ``change``: its value before and after."""
    kind, index, name = quantity
    symbol = name_text(name)
    if session.phase == "updated":
        trained = kind == "weight" or session.config.train_biases
        lines.append(update_line(net, name, change[0], gradient, change[1], trained))
        title = f"New value of {what} ({PHASE_TABLE['updated'].words})"
        return derivation(kind, index, symbol, title, session.phase, lines)
    title = f"Gradient of {what} ({PHASE_TABLE[session.phase].words})"
    return derivation(kind, index, f"∂L/∂{symbol}", title, session.phase, lines)


def _explain_weight(session: Session, l: int, i: int, j: int) -> Derivation:
    symbol = weight_symbol(l, i, j, len(session.arch.layers)).text
    layer = l + 1
    net = _net_with_gradients(session, symbol, l)
    name = net.weight(l, i, j)
    gradient = float(net.backward().weight_gradient(l)[i, j])
    lhs = (partial(name),)
    lines: list[Line] = []
    if net.samples > 1:
        deltas, inputs = net.backward().delta(layer), net.fwd.activation(l)
        per_sample = [
            (named(net.delta(layer, j, str(n + 1)), deltas[n, j]), Op("·"), net.h(l, i, row=n))
            for n in range(net.samples)
        ]
        general_term = (net.delta(layer, j, "n"), Op("·"), net.unit(l, i, "n"))
        total = math.fsum(float(deltas[n, j] * inputs[n, i]) for n in range(net.samples))
        lines.append(mean_line(net, lhs, per_sample, general_term, total, gradient))
    else:
        before, factors, note = delta_lines(net, layer, j)
        lines += before
        lines.append(Line(lhs, product([*factors, Factor((net.h(l, i),))]), gradient, note=note))
    what = f"{'output' if layer == net.depth else 'hidden'} weight {symbol}"
    change = float(net.params.weights[l][i, j]), float(session.params.weights[l][i, j])
    return _gradient_derivation(session, net, ("weight", (l, i, j), name), what, gradient, change, lines)


def _explain_bias(session: Session, l: int, j: int) -> Derivation:
    symbol = bias_symbol(l + 1, j).text
    layer = l + 1
    net = _net_with_gradients(session, symbol, l)
    name = net.bias(l, j)
    gradient = float(net.backward().bias_gradient(l)[j])
    lhs = (partial(name),)
    lines: list[Line] = []
    if net.samples > 1:
        deltas = net.backward().delta(layer)
        per_sample = [(named(net.delta(layer, j, str(n + 1)), deltas[n, j]),) for n in range(net.samples)]
        total = math.fsum(float(d) for d in deltas[:, j])
        lines.append(mean_line(net, lhs, per_sample, (net.delta(layer, j, "n"),), total, gradient))
    else:
        before, factors, note = delta_lines(net, layer, j)
        lines += before
        lines.append(Line(lhs, product(factors), gradient, general=(net.delta(layer, j),), note=note))
    what = f"bias {symbol} of {net.role(layer)} {unit_symbol(layer, j, net.count).text}"
    change = float(net.params.biases[l][j]), float(session.params.biases[l][j])
    return _gradient_derivation(session, net, ("bias", (l, j), name), what, gradient, change, lines)


# --------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------


def _explain_loss(session: Session) -> Derivation:
    net = net_of(session)
    fwd = net.fwd
    if fwd.sample_losses is None:
        raise NothingComputedError(
            "the loss comes after the forward pass reaches the output: "
            "run forward (or the next sub-step) first"
        )
    depth, row, n = net.depth, net.row, net.samples
    outputs = range(net.arch.layers[-1])
    ys = [net.h(depth, j) for j in outputs]
    ts = [named(net.target(j), fwd.targets[row, j]) for j in outputs]
    y_j, t_j = net.unit_any(depth, "j"), net.target("j")
    note = ""
    expr: list[Part] = []
    if net.arch.loss == "l2":
        general: Parts = (HALF, Sum("j"), Pow((Op("("), y_j, Op("−"), t_j, Op(")")), "2"))
        for j in outputs:
            if j:
                expr.append(Op("+"))
            expr.append(Pow((Op("("), ys[j], Op("−"), ts[j], Op(")")), "2"))
        expr = [HALF, Op("["), *expr, Op("]")]
    elif net.arch.loss == "bce":

        def ln(*argument: Part) -> list[Part]:
            return [Word("ln"), Op("("), *argument, Op(")")]

        def cross_entropy(y: Part, t: Part) -> list[Part]:
            """t · ln(y) + (1 − t) · ln(1 − y)"""
            one_minus_t: list[Part] = [Op("("), Word("1"), Op("−"), t, Op(")")]
            return [t, Op("·"), *ln(y), Op("+"), *one_minus_t, Op("·"), *ln(Word("1"), Op("−"), y)]

        general = (Op("−"), Sum("j"), Op("["), *cross_entropy(y_j, t_j), Op("]"))
        for j in outputs:
            if j:
                expr.append(Op("+"))
            expr += cross_entropy(ys[j], ts[j])
        expr = [Op("−"), Op("["), *expr, Op("]")]
        note = (
            "the engine computes it from a as max(a, 0) − a·t + ln(1 + e^(−|a|)), "
            "exact even when y rounds to 0 or 1"
        )
    else:  # pragma: no cover - a loss added to the registry without a formula here
        general = ()
        expr = [Word(net.arch.loss), Op("("), *ys, Op(")")]
    sample = str(row + 1) if n > 1 else ""
    own = float(fwd.sample_losses[row])
    lines = [Line((Name("L", sample=sample),), tuple(expr), own, general=general, note=note)]
    if n > 1:
        losses = fwd.sample_losses
        per_sample = [(named(Name("L", sample=str(k + 1)), losses[k]),) for k in range(n)]
        total = math.fsum(float(v) for v in losses)
        loss = fwd.loss
        assert loss is not None
        lines.append(mean_line(net, (Name("L"),), per_sample, (Name("L", sample="n"),), total, loss))
        title = f"Mean loss over the {n} samples ({PHASE_TABLE[session.phase].words})"
    else:
        title = f"Loss of this sample ({PHASE_TABLE[session.phase].words})"
    return derivation("loss", (), "L", title, session.phase, lines)


# --------------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------------


def explain(session: Session, kind: str, index: Sequence[int] = ()) -> Derivation:
    """The working behind one quantity in the session's current phase.

    ``kind`` and ``index`` (0-based, as in MATH.md): ``unit`` (l, j) — ``unit`` (0, i) is input x_i —
    ``weight`` (l, i, j), ``bias`` (l, j), ``loss`` (). What is explained depends on the phase:

    - a unit: its activation once the forward pass has computed it (a line for a, a line for h);
      its δ = ∂L/∂a once the backward pass has (for a hidden unit ∂L/∂h_j = Σ_k δ_k w_jk term by
      term first); an input is given whenever there is a forward pass;
    - a weight or a bias: its gradient once the backward pass has reached it (in batch mode the
      mean over the samples); after the update also the update line, and the new value;
    - the loss: once the forward pass has computed it (in batch mode the mean over the samples).

    Raises InvalidInputError for an unknown kind or an index out of range, and NothingComputedError (a
    PhaseError) when the quantity has not been computed in this phase, saying what to run first.
    """
    key, values = check_index(session.arch, kind, index)
    if key == "unit":
        return _explain_unit(session, values[0], values[1])
    if key == "weight":
        return _explain_weight(session, values[0], values[1], values[2])
    if key == "bias":
        return _explain_bias(session, values[0], values[1])
    return _explain_loss(session)
