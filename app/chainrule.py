"""A session's traces in the article's names, and the pieces of the chain rule written with them.

:class:`Net` reads the traces of the current phase (the current sample's row) as named numbers;
the functions below build the lines of working the derivations in :mod:`app.explain` are made of:
a(l) = Σ h·w + b and h = f(a), δ of an output or a hidden unit as a product of factors, the
hidden unit's "no target" sum Σ_k δ_k w_jk, a batch mean written out, an update θ ← θ − η·∂L/∂θ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.engine import Activation, Architecture, BackwardTrace, ForwardTrace, Parameters
from app.errors import NothingComputedError
from app.mathtext import (
    Line,
    Name,
    Op,
    Part,
    Parts,
    Pow,
    Sum,
    Val,
    Word,
    named,
    named_partial,
    one_over_n,
    partial,
    plain,
)
from app.notation import bias_symbol, unit_symbol, weight_symbol
from app.session import PHASE_TABLE, Session

#: Batches up to this size have their mean written out sample by sample.
MAX_WRITTEN_SAMPLES = 4


@dataclass(frozen=True)
class Net:
    """A session's traces seen through the article's names; ``row`` is the current sample."""

    session: Session
    fwd: ForwardTrace
    bwd: BackwardTrace | None

    @property
    def arch(self) -> Architecture:
        return self.session.arch

    @property
    def count(self) -> int:
        return len(self.arch.layers)

    @property
    def depth(self) -> int:
        return self.arch.depth

    @property
    def row(self) -> int:
        return self.session.display_row

    @property
    def samples(self) -> int:
        return int(self.fwd.targets.shape[0])

    @property
    def params(self) -> Parameters:
        """The parameters the traces were computed with."""
        return self.session.shown_params

    def unit(self, layer: int, j: int, sample: str = "") -> Name:
        return Name.of(unit_symbol(layer, j, self.count), sample)

    def unit_any(self, layer: int, letter: str, sample: str = "") -> Name:
        """The unit symbol of a layer with a letter index: x_i, h_j, h(2)_k."""
        symbol = unit_symbol(layer, 0, self.count)
        return Name(symbol.base, letter, symbol.sup, sample)

    def weight(self, l: int, i: int | str, j: int | str) -> Name:
        """w_ij of weight layer l; an index given as a letter stays a letter (u_jk)."""
        symbol = weight_symbol(l, 0, 0, self.count)
        sub = "".join(str(v + 1) if isinstance(v, int) else v for v in (i, j))
        return Name(symbol.base, sub, symbol.sup)

    def bias(self, l: int, j: int) -> Name:
        """b(l+1)_j: the bias of unit j of layer l+1."""
        return Name.of(bias_symbol(l + 1, j))

    @staticmethod
    def delta(layer: int, j: int | str, sample: str = "") -> Name:
        return Name("δ", str(j + 1) if isinstance(j, int) else j, str(layer), sample)

    @staticmethod
    def pre(layer: int, j: int) -> Name:
        return Name("a", str(j + 1), str(layer))

    @staticmethod
    def target(j: int | str) -> Name:
        return Name("t", str(j + 1) if isinstance(j, int) else j)

    def h(self, layer: int, j: int, row: int | None = None) -> Val:
        value = self.fwd.activation(layer)[self.row if row is None else row, j]
        sample = "" if row is None else str(row + 1)
        return named(self.unit(layer, j, sample), value)

    def a(self, layer: int, j: int) -> Val:
        return named(self.pre(layer, j), self.fwd.pre_activation(layer)[self.row, j])

    def role(self, layer: int) -> str:
        if layer == 0:
            return "input"
        return "output unit" if layer == self.depth else "hidden unit"

    def backward(self) -> BackwardTrace:
        assert self.bwd is not None
        return self.bwd


def net_of(session: Session) -> Net:
    """The traces, or NothingComputedError when there is no forward pass yet."""
    if session.phase == "idle" or session.forward is None:
        raise NothingComputedError("nothing has been computed yet: run forward first")
    backward = session.backward if PHASE_TABLE[session.phase].shows_backward else None
    return Net(session, session.forward, backward)


# --------------------------------------------------------------------------------------------
# The pieces of the chain rule
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One factor of a product; a sum is bracketed when it has neighbours."""

    parts: Parts
    is_sum: bool = False


def product(factors: Sequence[Factor]) -> Parts:
    if len(factors) == 1:
        return factors[0].parts
    parts: list[Part] = []
    for k, factor in enumerate(factors):
        if k:
            parts.append(Op("·"))
        parts.extend((Op("("), *factor.parts, Op(")")) if factor.is_sum else factor.parts)
    return tuple(parts)


def applied(activation: Activation, a: Val) -> Parts:
    """h = f(a) written out: σ(a), tanh(a), max(0, a), a."""
    if activation.name == "sigmoid":
        return (Word("σ"), Op("("), a, Op(")"))
    if activation.name == "relu":
        return (Word("max"), Op("("), Word("0"), Op(","), a, Op(")"))
    if activation.name == "linear":
        return (a,)
    return (Word(activation.name), Op("("), a, Op(")"))


def derivative_factor(activation: Activation, h: Val, a: Val) -> tuple[Factor, str]:
    """f'(a) written in terms of the unit's own value where the article does: h(1 − h), 1 − h²."""
    if activation.name == "sigmoid":
        return Factor((h, Op("("), Word("1"), Op("−"), h, Op(")"))), ""
    if activation.name == "tanh":
        return Factor((Op("("), Word("1"), Op("−"), Pow((h,), "2"), Op(")"))), ""
    if activation.name == "linear":
        return Factor((Word("1"),)), ""
    # Any other activation (ReLU): f′ at a, with the registry's formula in words beside it.
    name = f"{activation.name}′"
    return Factor((Word(name), Op("("), a, Op(")"))), f"{name}(a) = {activation.derivative_formula}"


def output_factors(net: Net, j: int) -> tuple[list[Factor], str]:
    """δ of output unit j as a product: (y_j − t_j) · f'(a_j), or y_j − t_j for cross-entropy."""
    depth = net.depth
    y = net.h(depth, j)
    t = named(net.target(j), net.fwd.targets[net.row, j])
    difference = Factor((y, Op("−"), t), is_sum=True)
    loss = net.arch.loss_function
    if loss.requires_output == "sigmoid":  # the engine's test for the simplification
        return [difference], "for cross-entropy on sigmoid outputs σ′ cancels: δ = y − t"
    activation = net.arch.activation_of(depth)
    derivative, note = derivative_factor(activation, y, net.a(depth, j))
    if loss.name == "l2":
        first = difference
    else:  # a loss without a closed form here: ∂L/∂y from the trace
        gradient = net.backward().activation_gradient(depth)[net.row, j]
        first = Factor((named_partial(net.unit(depth, j), gradient),))
    return [first, derivative], note


def hidden_sum_line(net: Net, layer: int, j: int) -> Line:
    """∂L/∂h_j = Σ_k δ_k w_jk over the next layer, term by term: the article's "no hidden target"."""
    weights = net.params.weights[layer]
    deltas = net.backward().delta(layer + 1)
    expr: list[Part] = []
    for k in range(net.arch.layers[layer + 1]):
        if k:
            expr.append(Op("+"))
        expr += [named(net.delta(layer + 1, k), deltas[net.row, k]), Op("·")]
        expr.append(named(net.weight(layer, j, k), weights[j, k]))
    general = (Sum("k"), net.delta(layer + 1, "k"), Op("·"), net.weight(layer, j, "k"))
    result = float(net.backward().activation_gradient(layer)[net.row, j])
    return Line((partial(net.unit(layer, j)),), tuple(expr), result, general=general)


def hidden_factors(net: Net, layer: int, j: int) -> tuple[list[Factor], str]:
    """δ of hidden unit j as a product: ∂L/∂h_j · f'(a_j)."""
    gradient = net.backward().activation_gradient(layer)[net.row, j]
    derivative, note = derivative_factor(net.arch.activation_of(layer), net.h(layer, j), net.a(layer, j))
    return [Factor((named_partial(net.unit(layer, j), gradient),)), derivative], note


def delta_lines(net: Net, layer: int, j: int) -> tuple[list[Line], list[Factor], str]:
    """The lines leading up to δ(layer)_j, and δ's factors."""
    if layer == net.depth:
        factors, note = output_factors(net, j)
        return [], factors, note
    factors, note = hidden_factors(net, layer, j)
    return [hidden_sum_line(net, layer, j)], factors, note


def mean_line(
    net: Net,
    lhs: Parts,
    per_sample: Sequence[Parts],
    general_term: Parts,
    total: float,
    result: float,
) -> Line:
    """∂L/∂θ = (1/N) Σ_n (one sample's term): written out for small batches, else the sum's value."""
    n = net.samples
    general = (one_over_n(n), Sum("n"), *general_term)
    if n <= MAX_WRITTEN_SAMPLES:
        expr: list[Part] = [one_over_n(n), Op("[")]
        for k, term in enumerate(per_sample):
            if k:
                expr.append(Op("+"))
            expr.extend(term)
        expr.append(Op("]"))
        return Line(lhs, tuple(expr), result, general=general)
    name = plain((Sum("n"), *general_term), False)
    total_val = Val((Sum("n"), *general_term), total, name)
    return Line(lhs, (one_over_n(n), Op("·"), total_val), result)


def forward_lines(net: Net, layer: int, j: int) -> list[Line]:
    """a(l)_j = Σ_i h_i w_ij + b(l)_j, then h_j = f(a(l)_j)."""
    l = layer - 1
    weights, biases = net.params.weights[l], net.params.biases[l]
    expr: list[Part] = []
    for i in range(net.arch.layers[l]):
        if i:
            expr.append(Op("+"))
        expr += [net.h(l, i), Op("·"), named(net.weight(l, i, j), weights[i, j])]
    bias = named(net.bias(l, j), biases[j])
    expr += [Op("+"), bias]
    general = (Sum("i"), net.unit_any(l, "i"), Op("·"), net.weight(l, "i", j), Op("+"), net.bias(l, j))
    a = net.a(layer, j)
    pre_line = Line((net.pre(layer, j),), tuple(expr), a.value, general=general)
    h = net.h(layer, j)
    activation = net.arch.activation_of(layer)
    note = "the linear activation passes a through" if activation.name == "linear" else ""
    return [pre_line, Line((net.unit(layer, j),), applied(activation, a), h.value, note=note)]


def update_line(net: Net, name: Name, old: float, gradient: float, new: float, trained: bool = True) -> Line:
    """θ ← θ − η ∂L/∂θ with the old value, η and the gradient; the result is the new parameter."""
    if not trained:
        return Line(
            (name,),
            (named(name, old),),
            new,
            relation="←",
            note="biases are not trained in this session: the update leaves it unchanged",
        )
    eta = named(Name("η"), net.session.config.learning_rate)
    expr = (named(name, old), Op("−"), eta, Op("·"), named_partial(name, gradient))
    return Line((name,), expr, new, relation="←")
