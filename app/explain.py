"""Show the working: how every number of a session follows from MATH.md, with the numbers substituted.

:func:`explain` answers "where does this number come from?" for one quantity in the session's current
phase: a unit (its activation after the forward pass, its δ once the backward pass has reached it),
a weight or a bias (its gradient after the backward pass, its new value after the update) or the
loss. The answer is a :class:`Derivation`: lines of working, each written three ways (symbols,
numbers, result) in plain text and in MathML, the numbers that were substituted, and the result.

The result of a derivation is always the engine's own number, the very float in the trace or the
parameters, never a recomputation; the working beside it is rounded for reading (``diagram.fmt``).

:func:`gradient_check` compares backprop with central finite differences for every parameter, and
:func:`check` marks a number a learner worked out by hand.

This module knows nothing of HTTP; the API and the page render the same objects.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args
from xml.sax.saxutils import escape

import numpy as np

from app import engine
from app.engine import Activation, Architecture, Array, BackwardTrace, ForwardTrace, Parameters
from app.errors import InvalidInputError, NothingComputedError
from app.limits import MAX_EPSILON
from app.notation import Symbol, bias_symbol, fmt, unit_symbol, weight_symbol
from app.session import PHASE_TABLE, Phase, Session

Kind = Literal["unit", "weight", "bias", "loss"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: How many numbers name each kind of quantity (0-based, as in MATH.md).
ARITY: dict[Kind, int] = {"unit": 2, "weight": 3, "bias": 2, "loss": 0}
MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
#: Batches up to this size have their mean written out sample by sample.
MAX_WRITTEN_SAMPLES = 4
#: The step of the central differences in :func:`gradient_check` (see there why).
DEFAULT_EPSILON = 1e-6

# --------------------------------------------------------------------------------------------
# What a derivation is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One number substituted into the working."""

    #: Its name in the article's plain-text notation: "y1", "t1", "u21", "δ(2)1", "w(2)13", "η".
    symbol: str
    #: Its value, full precision (the engine's float).
    value: float


@dataclass(frozen=True)
class Equation:
    """One line of working: ``lhs relation symbolic = numeric = result``."""

    #: What the line computes, in plain text: "∂L/∂u21", "h1", "a(1)1", "δ(2)1".
    lhs: str
    #: The formula in symbols (a general form first where there is one, joined by " = ").
    symbolic: str
    #: The same formula with every number substituted, rounded with ``diagram.fmt``.
    numeric: str
    #: What the line arrives at: the engine's number, full precision.
    result: float
    #: This line as one ``<math display="block">`` element (lhs, relation, symbols, numbers, result).
    mathml: str
    #: "=" for a computation, "←" for the update of a parameter.
    relation: str = "="
    #: A remark in words that belongs to this line ("" if none).
    note: str = ""


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


# --------------------------------------------------------------------------------------------
# Formulas: a few kinds of parts, rendered as plain text and as MathML from the same source.
# A _Val is a named number: its symbol in the symbolic form, its rounded value in the numeric form.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    """A symbol: base, subscript (indices), layer superscript "(l)", sample superscript "(n)"."""

    base: str
    sub: str = ""
    sup: str = ""
    sample: str = ""

    @classmethod
    def of(cls, symbol: Symbol, sample: str = "") -> _Name:
        return cls(symbol.base, symbol.sub, symbol.sup, sample)


@dataclass(frozen=True)
class _Op:
    """An operator, relation or bracket: + − · = ← ( ) [ ] , ∂."""

    text: str


@dataclass(frozen=True)
class _Word:
    """A function name (σ, tanh, ln) or a constant of the formula (1, 0)."""

    text: str


@dataclass(frozen=True)
class _Sum:
    """Σ over an index."""

    under: str


@dataclass(frozen=True)
class _Pow:
    """base raised to a small whole power (squares)."""

    base: tuple[_Part, ...]
    exponent: str


@dataclass(frozen=True)
class _Frac:
    """A fraction; ``text`` overrides the plain text (½), ``paren`` writes "(1/N)" in plain text."""

    numerator: tuple[_Part, ...]
    denominator: tuple[_Part, ...]
    text: str = ""
    paren: bool = False


@dataclass(frozen=True)
class _Val:
    """A number with a name: ``shape`` in the symbolic form, ``value`` in the numeric form."""

    shape: tuple[_Part, ...]
    value: float
    name: str


_Part: TypeAlias = _Name | _Op | _Word | _Sum | _Pow | _Frac | _Val
_Parts: TypeAlias = tuple[_Part, ...]

_BINARY = frozenset({"+", "−", "·", "=", "←"})
_OPEN = frozenset({"(", "["})
_CLOSE = frozenset({")", "]"})
_SUPERSCRIPTS = str.maketrans("0123456789n", "⁰¹²³⁴⁵⁶⁷⁸⁹ⁿ")
_HALF = _Frac((_Word("1"),), (_Word("2"),), text="½")


def _is_prefix(previous: _Part | None) -> bool:
    """An operator at the start of a group is a sign, not a binary operator."""
    return previous is None or (isinstance(previous, _Op) and previous.text in _OPEN | _BINARY | {","})


def _negative_needs_parens(parts: _Parts, k: int) -> bool:
    """A negative number is bracketed unless it stands alone in its group: "0.5 − (−0.2)"."""
    previous = parts[k - 1] if k > 0 else None
    following = parts[k + 1] if k + 1 < len(parts) else None
    alone_before = previous is None or (isinstance(previous, _Op) and previous.text in _OPEN | {","})
    alone_after = following is None or (
        isinstance(following, _Op) and following.text in _CLOSE | _BINARY | {","}
    )
    return not (alone_before and alone_after)


def _name_text(name: _Name) -> str:
    sup = f"({name.sup})" if name.sup else ""
    # Letter indices take an underscore, as MATH.md writes them: δ_k, u_jk; digits do not: u21.
    sub = f"_{name.sub}" if any(c.isalpha() for c in name.sub) else name.sub
    sample = f"⁽{name.sample.translate(_SUPERSCRIPTS)}⁾" if name.sample else ""
    return f"{name.base}{sup}{sub}{sample}"


def _text(parts: _Parts, numeric: bool) -> str:
    """Plain text, as in MATH.md: binary operators spaced, true minus signs."""
    out: list[str] = []
    previous: _Part | None = None
    for k, part in enumerate(parts):
        if isinstance(part, _Op):
            if part.text in _BINARY and not _is_prefix(previous):
                piece = f" {part.text} "
            elif part.text == ",":
                piece = ", "
            else:
                piece = part.text
            if isinstance(previous, _Sum):
                piece = " " + piece  # "−Σ_j [", not "−Σ_j["
        else:
            piece = _part_text(part, numeric, parts, k)
            if previous is not None and not isinstance(previous, _Op):
                piece = " " + piece  # two names side by side ("Σ_k δ(2)_k", "½ Σ_j")
        out.append(piece)
        previous = part
    return "".join(out)


def _part_text(part: _Part, numeric: bool, parts: _Parts, k: int) -> str:
    if isinstance(part, _Name):
        return _name_text(part)
    if isinstance(part, _Word):
        return part.text
    if isinstance(part, _Sum):
        return f"Σ_{part.under}"
    if isinstance(part, _Pow):
        base = _text(part.base, numeric)
        if _single_negative(part.base, numeric):
            base = f"({base})"
        return base + part.exponent.translate(_SUPERSCRIPTS)
    if isinstance(part, _Frac):
        if part.text:
            return part.text
        text = f"{_text(part.numerator, numeric)}/{_text(part.denominator, numeric)}"
        return f"({text})" if part.paren else text
    if isinstance(part, _Val):
        if not numeric:
            return _text(part.shape, numeric)
        text = fmt(part.value)
        return f"({text})" if text.startswith("−") and _negative_needs_parens(parts, k) else text
    raise AssertionError(part)  # pragma: no cover - every kind of part is handled above


def _single_negative(parts: _Parts, numeric: bool) -> bool:
    return numeric and len(parts) == 1 and isinstance(parts[0], _Val) and fmt(parts[0].value).startswith("−")


# MathML: every piece of text goes through escape(); the elements are MathML Core's.


def _mrow(inner: str) -> str:
    return f"<mrow>{inner}</mrow>"


def _mo(text: str) -> str:
    return f"<mo>{escape(text)}</mo>"


def _index_ml(text: str) -> str:
    """A subscript or superscript: runs of digits as <mn>, letters as <mi>."""
    pieces = re.findall(r"[0-9]+|.", text)
    rendered = "".join(f"<mn>{p}</mn>" if p.isdigit() else f"<mi>{escape(p)}</mi>" for p in pieces)
    return rendered if len(pieces) == 1 else _mrow(rendered)


def _name_ml(name: _Name) -> str:
    base = f"<mi>{escape(name.base)}</mi>"
    sup = ""
    if name.sup:
        sup += _mo("(") + _index_ml(name.sup) + _mo(")")
    if name.sample:
        sup += _mo("(") + _index_ml(name.sample) + _mo(")")
    sup_ml = _mrow(sup) if sup else ""
    if name.sub and sup_ml:
        return f"<msubsup>{base}{_index_ml(name.sub)}{sup_ml}</msubsup>"
    if name.sub:
        return f"<msub>{base}{_index_ml(name.sub)}</msub>"
    if sup_ml:
        return f"<msup>{base}{sup_ml}</msup>"
    return base


def _number_ml(value: float) -> str:
    """fmt's rounding, with 1.235e-07 drawn as 1.235 × 10⁻⁷."""
    text = fmt(value)
    negative = text.startswith("−")
    body = text.removeprefix("−")
    if "e" in body:
        mantissa, exponent = body.split("e")
        power = int(exponent)
        exponent_ml = _mrow(_mo("−") + f"<mn>{-power}</mn>") if power < 0 else f"<mn>{power}</mn>"
        body_ml = _mrow(f"<mn>{mantissa}</mn>{_mo('×')}<msup><mn>10</mn>{exponent_ml}</msup>")
    else:
        body_ml = f"<mn>{body}</mn>"
    return _mrow(_mo("−") + body_ml) if negative else body_ml


def _ml(parts: _Parts, numeric: bool) -> str:
    pieces: list[str] = []
    for k, part in enumerate(parts):
        if isinstance(part, _Op):
            pieces.append('<mo separator="true">,</mo>' if part.text == "," else _mo(part.text))
        elif isinstance(part, _Name):
            pieces.append(_name_ml(part))
        elif isinstance(part, _Word):
            pieces.append(f"<mn>{part.text}</mn>" if part.text.isdigit() else f"<mi>{escape(part.text)}</mi>")
        elif isinstance(part, _Sum):
            pieces.append(f"<munder>{_mo('∑')}<mi>{escape(part.under)}</mi></munder>")
        elif isinstance(part, _Pow):
            base = _ml(part.base, numeric)
            if _single_negative(part.base, numeric):
                base = _mrow(_mo("(") + base + _mo(")"))
            pieces.append(f"<msup>{base}<mn>{part.exponent}</mn></msup>")
        elif isinstance(part, _Frac):
            pieces.append(f"<mfrac>{_ml(part.numerator, numeric)}{_ml(part.denominator, numeric)}</mfrac>")
        elif numeric:
            number = _number_ml(part.value)
            if fmt(part.value).startswith("−") and _negative_needs_parens(parts, k):
                number = _mrow(_mo("(") + number + _mo(")"))
            pieces.append(number)
        else:
            pieces.append(_ml(part.shape, numeric))
    return _mrow("".join(pieces))


def _vals(parts: _Parts) -> list[_Val]:
    """The named numbers of a formula, in reading order."""
    found: list[_Val] = []
    for part in parts:
        if isinstance(part, _Val):
            found.append(part)
        elif isinstance(part, _Pow):
            found.extend(_vals(part.base))
        elif isinstance(part, _Frac):
            found.extend(_vals(part.numerator) + _vals(part.denominator))
    return found


@dataclass(frozen=True)
class _Line:
    """A line of working before rendering."""

    lhs: _Parts
    expr: _Parts
    result: float
    #: A general form written before ``expr`` (Σ notation), or ().
    general: _Parts = ()
    relation: str = "="
    note: str = ""

    def steps(self) -> list[str]:
        """The MathML of each form right of the lhs (general, symbols, numbers, result), redundant
        ones left out."""
        lhs_text = _text(self.lhs, False)
        expr_text = _text(self.expr, False)
        numeric_text = _text(self.expr, True)
        steps: list[str] = []
        if self.general:
            steps.append(_ml(self.general, False))
        if expr_text and expr_text != lhs_text:
            steps.append(_ml(self.expr, False))
        if numeric_text not in ("", expr_text, fmt(self.result)):
            steps.append(_ml(self.expr, True))
        steps.append(_number_ml(self.result))
        return steps

    def chain(self) -> str:
        """The MathML of everything right of the lhs, on one line."""
        chain = _mo(self.relation) + _mo("=").join(self.steps())
        if self.note:
            chain += f'<mspace width="1em"/><mtext>({escape(self.note)})</mtext>'
        return chain

    def equation(self) -> Equation:
        symbolic = " = ".join(t for t in (_text(self.general, False), _text(self.expr, False)) if t)
        mathml = (
            f'<math xmlns="{MATHML_NAMESPACE}" display="block">'
            f"{_mrow(_ml(self.lhs, False) + self.chain())}</math>"
        )
        return Equation(
            lhs=_text(self.lhs, False),
            symbolic=symbolic,
            numeric=_text(self.expr, True),
            result=self.result,
            mathml=mathml,
            relation=self.relation,
            note=self.note,
        )


def _table(lines: Sequence[_Line]) -> str:
    # One form per row, aligned on the relation, so the working fits a narrow panel and reads
    # top to bottom: lhs = symbols / = numbers / = result.
    rows: list[str] = []
    for line in lines:
        for k, step in enumerate(line.steps()):
            lhs = _ml(line.lhs, False) if k == 0 else ""
            relation = line.relation if k == 0 else "="
            rows.append(f"<mtr><mtd>{lhs}</mtd><mtd>{_mrow(_mo(relation) + step)}</mtd></mtr>")
        if line.note:
            rows.append(f"<mtr><mtd></mtd><mtd><mtext>({escape(line.note)})</mtext></mtd></mtr>")
    rows_text = "".join(rows)
    return (
        f'<math xmlns="{MATHML_NAMESPACE}" display="block">'
        f'<mtable columnalign="right left" displaystyle="true">{rows_text}</mtable></math>'
    )


def _derivation(
    kind: Kind, index: tuple[int, ...], quantity: str, title: str, phase: Phase, lines: Sequence[_Line]
) -> Derivation:
    terms: dict[str, Term] = {}
    for line in lines:
        for val in _vals(line.expr):
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
        mathml=_table(lines),
    )


# --------------------------------------------------------------------------------------------
# Names in the article's notation (diagram.py owns x, h, y, w, u, b; δ, a, t, L, η are here)
# --------------------------------------------------------------------------------------------


def _val(name: _Name, value: float) -> _Val:
    return _Val((name,), float(value), _name_text(name))


def _partial(name: _Name) -> _Frac:
    """∂L/∂name."""
    return _Frac((_Op("∂"), _Name("L")), (_Op("∂"), name))


def _partial_val(name: _Name, value: float) -> _Val:
    return _Val((_partial(name),), float(value), f"∂L/∂{_name_text(name)}")


def _one_over_n(n: int) -> _Frac:
    return _Frac((_Word("1"),), (_Val((_Name("N"),), float(n), "N"),), paren=True)


@dataclass(frozen=True)
class _Net:
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

    def unit(self, layer: int, j: int, sample: str = "") -> _Name:
        return _Name.of(unit_symbol(layer, j, self.count), sample)

    def unit_any(self, layer: int, letter: str, sample: str = "") -> _Name:
        """The unit symbol of a layer with a letter index: x_i, h_j, h(2)_k."""
        symbol = unit_symbol(layer, 0, self.count)
        return _Name(symbol.base, letter, symbol.sup, sample)

    def weight(self, l: int, i: int | str, j: int | str) -> _Name:
        """w_ij of weight layer l; an index given as a letter stays a letter (u_jk)."""
        symbol = weight_symbol(l, 0, 0, self.count)
        sub = "".join(str(v + 1) if isinstance(v, int) else v for v in (i, j))
        return _Name(symbol.base, sub, symbol.sup)

    def bias(self, l: int, j: int) -> _Name:
        """b(l+1)_j: the bias of unit j of layer l+1."""
        return _Name.of(bias_symbol(l + 1, j))

    @staticmethod
    def delta(layer: int, j: int | str, sample: str = "") -> _Name:
        return _Name("δ", str(j + 1) if isinstance(j, int) else j, str(layer), sample)

    @staticmethod
    def pre(layer: int, j: int) -> _Name:
        return _Name("a", str(j + 1), str(layer))

    @staticmethod
    def target(j: int | str) -> _Name:
        return _Name("t", str(j + 1) if isinstance(j, int) else j)

    def h(self, layer: int, j: int, row: int | None = None) -> _Val:
        value = self.fwd.activation(layer)[self.row if row is None else row, j]
        sample = "" if row is None else str(row + 1)
        return _val(self.unit(layer, j, sample), value)

    def a(self, layer: int, j: int) -> _Val:
        return _val(self.pre(layer, j), self.fwd.pre_activation(layer)[self.row, j])

    def role(self, layer: int) -> str:
        if layer == 0:
            return "input"
        return "output unit" if layer == self.depth else "hidden unit"

    def backward(self) -> BackwardTrace:
        assert self.bwd is not None
        return self.bwd


def _net(session: Session) -> _Net:
    """The traces, or NothingComputedError when there is no forward pass yet."""
    if session.phase == "idle" or session.forward is None:
        raise NothingComputedError("nothing has been computed yet: run forward first")
    backward = session.backward if PHASE_TABLE[session.phase].shows_backward else None
    return _Net(session, session.forward, backward)


# --------------------------------------------------------------------------------------------
# The pieces of the chain rule
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Factor:
    """One factor of a product; a sum is bracketed when it has neighbours."""

    parts: _Parts
    is_sum: bool = False


def _product(factors: Sequence[_Factor]) -> _Parts:
    if len(factors) == 1:
        return factors[0].parts
    parts: list[_Part] = []
    for k, factor in enumerate(factors):
        if k:
            parts.append(_Op("·"))
        parts.extend((_Op("("), *factor.parts, _Op(")")) if factor.is_sum else factor.parts)
    return tuple(parts)


def _apply(activation: Activation, a: _Val) -> _Parts:
    """h = f(a) written out: σ(a), tanh(a), max(0, a), a."""
    if activation.name == "sigmoid":
        return (_Word("σ"), _Op("("), a, _Op(")"))
    if activation.name == "relu":
        return (_Word("max"), _Op("("), _Word("0"), _Op(","), a, _Op(")"))
    if activation.name == "linear":
        return (a,)
    return (_Word(activation.name), _Op("("), a, _Op(")"))


def _derivative(activation: Activation, h: _Val, a: _Val) -> tuple[_Factor, str]:
    """f'(a) written in terms of the unit's own value where the article does: h(1 − h), 1 − h²."""
    if activation.name == "sigmoid":
        return _Factor((h, _Op("("), _Word("1"), _Op("−"), h, _Op(")"))), ""
    if activation.name == "tanh":
        return _Factor((_Op("("), _Word("1"), _Op("−"), _Pow((h,), "2"), _Op(")"))), ""
    if activation.name == "linear":
        return _Factor((_Word("1"),)), ""
    # Any other activation (ReLU): f′ at a, with the registry's formula in words beside it.
    name = f"{activation.name}′"
    return _Factor((_Word(name), _Op("("), a, _Op(")"))), f"{name}(a) = {activation.derivative_formula}"


def _output_factors(net: _Net, j: int) -> tuple[list[_Factor], str]:
    """δ of output unit j as a product: (y_j − t_j) · f'(a_j), or y_j − t_j for cross-entropy."""
    depth = net.depth
    y = net.h(depth, j)
    t = _val(net.target(j), net.fwd.targets[net.row, j])
    difference = _Factor((y, _Op("−"), t), is_sum=True)
    loss = net.arch.loss_function
    if loss.requires_output == "sigmoid":  # the engine's test for the simplification
        return [difference], "for cross-entropy on sigmoid outputs σ′ cancels: δ = y − t"
    activation = net.arch.activation_of(depth)
    derivative, note = _derivative(activation, y, net.a(depth, j))
    if loss.name == "l2":
        first = difference
    else:  # a loss without a closed form here: ∂L/∂y from the trace
        gradient = net.backward().activation_gradient(depth)[net.row, j]
        first = _Factor((_partial_val(net.unit(depth, j), gradient),))
    return [first, derivative], note


def _hidden_sum_line(net: _Net, layer: int, j: int) -> _Line:
    """∂L/∂h_j = Σ_k δ_k w_jk over the next layer, term by term: the article's "no hidden target"."""
    weights = net.params.weights[layer]
    deltas = net.backward().delta(layer + 1)
    expr: list[_Part] = []
    for k in range(net.arch.layers[layer + 1]):
        if k:
            expr.append(_Op("+"))
        expr += [_val(net.delta(layer + 1, k), deltas[net.row, k]), _Op("·")]
        expr.append(_val(net.weight(layer, j, k), weights[j, k]))
    general = (_Sum("k"), net.delta(layer + 1, "k"), _Op("·"), net.weight(layer, j, "k"))
    result = float(net.backward().activation_gradient(layer)[net.row, j])
    return _Line((_partial(net.unit(layer, j)),), tuple(expr), result, general=general)


def _hidden_factors(net: _Net, layer: int, j: int) -> tuple[list[_Factor], str]:
    """δ of hidden unit j as a product: ∂L/∂h_j · f'(a_j)."""
    gradient = net.backward().activation_gradient(layer)[net.row, j]
    derivative, note = _derivative(net.arch.activation_of(layer), net.h(layer, j), net.a(layer, j))
    return [_Factor((_partial_val(net.unit(layer, j), gradient),)), derivative], note


def _delta_lines(net: _Net, layer: int, j: int) -> tuple[list[_Line], list[_Factor], str]:
    """The lines leading up to δ(layer)_j, and δ's factors."""
    if layer == net.depth:
        factors, note = _output_factors(net, j)
        return [], factors, note
    factors, note = _hidden_factors(net, layer, j)
    return [_hidden_sum_line(net, layer, j)], factors, note


def _mean_line(
    net: _Net,
    lhs: _Parts,
    per_sample: Sequence[_Parts],
    general_term: _Parts,
    total: float,
    result: float,
) -> _Line:
    """∂L/∂θ = (1/N) Σ_n (one sample's term): written out for small batches, else the sum's value."""
    n = net.samples
    general = (_one_over_n(n), _Sum("n"), *general_term)
    if n <= MAX_WRITTEN_SAMPLES:
        expr: list[_Part] = [_one_over_n(n), _Op("[")]
        for k, term in enumerate(per_sample):
            if k:
                expr.append(_Op("+"))
            expr.extend(term)
        expr.append(_Op("]"))
        return _Line(lhs, tuple(expr), result, general=general)
    name = _text((_Sum("n"), *general_term), False)
    total_val = _Val((_Sum("n"), *general_term), total, name)
    return _Line(lhs, (_one_over_n(n), _Op("·"), total_val), result)


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


def _explain_unit(session: Session, layer: int, j: int) -> Derivation:
    symbol = unit_symbol(layer, j, len(session.arch.layers)).text
    if session.phase == "idle" or session.forward is None:
        raise NothingComputedError(
            f"nothing has been computed yet: {symbol} comes from the forward pass, so run forward first"
        )
    net = _net(session)
    phase = session.phase
    index = (layer, j)
    if layer == 0:
        x = net.h(0, j)
        line = _Line((net.unit(0, j),), (x,), x.value, note="the input is given")
        return _derivation("unit", index, symbol, f"Input {symbol} (given)", phase, [line])
    if net.bwd is not None and net.bwd.deltas[layer - 1] is not None:
        lines, factors, note = _delta_lines(net, layer, j)
        delta = net.delta(layer, j)
        result = float(net.backward().delta(layer)[net.row, j])
        lines.append(_Line((delta,), _product(factors), result, note=note))
        title = f"δ = ∂L/∂a of {net.role(layer)} {symbol} ({PHASE_TABLE[phase].words})"
        return _derivation("unit", index, _name_text(delta), title, phase, lines)
    if net.fwd.activations[layer] is None:
        raise NothingComputedError(
            f"{symbol} is computed when the forward pass reaches layer {layer}: "
            "run forward (or the next sub-step) first"
        )
    return _derivation(
        "unit",
        index,
        symbol,
        f"Activation of {net.role(layer)} {symbol} ({PHASE_TABLE[phase].words})",
        phase,
        _forward_lines(net, layer, j),
    )


def _forward_lines(net: _Net, layer: int, j: int) -> list[_Line]:
    """a(l)_j = Σ_i h_i w_ij + b(l)_j, then h_j = f(a(l)_j)."""
    l = layer - 1
    weights, biases = net.params.weights[l], net.params.biases[l]
    expr: list[_Part] = []
    for i in range(net.arch.layers[l]):
        if i:
            expr.append(_Op("+"))
        expr += [net.h(l, i), _Op("·"), _val(net.weight(l, i, j), weights[i, j])]
    bias = _val(net.bias(l, j), biases[j])
    expr += [_Op("+"), bias]
    general = (_Sum("i"), net.unit_any(l, "i"), _Op("·"), net.weight(l, "i", j), _Op("+"), net.bias(l, j))
    a = net.a(layer, j)
    pre_line = _Line((net.pre(layer, j),), tuple(expr), a.value, general=general)
    h = net.h(layer, j)
    activation = net.arch.activation_of(layer)
    note = "the linear activation passes a through" if activation.name == "linear" else ""
    return [pre_line, _Line((net.unit(layer, j),), _apply(activation, a), h.value, note=note)]


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


def _update_line(
    net: _Net, name: _Name, old: float, gradient: float, new: float, trained: bool = True
) -> _Line:
    """θ ← θ − η ∂L/∂θ with the old value, η and the gradient; the result is the new parameter."""
    if not trained:
        return _Line(
            (name,),
            (_val(name, old),),
            new,
            relation="←",
            note="biases are not trained in this session: the update leaves it unchanged",
        )
    eta = _val(_Name("η"), net.session.config.learning_rate)
    expr = (_val(name, old), _Op("−"), eta, _Op("·"), _partial_val(name, gradient))
    return _Line((name,), expr, new, relation="←")


def _explain_weight(session: Session, l: int, i: int, j: int) -> Derivation:
    arch = session.arch
    symbol = weight_symbol(l, i, j, len(arch.layers)).text
    layer = l + 1
    if session.phase == "idle" or session.forward is None:
        raise _gradient_missing(session, symbol, layer)
    net = _net(session)
    if net.bwd is None or net.bwd.weight_gradients[l] is None:
        raise _gradient_missing(session, symbol, layer)
    name = net.weight(l, i, j)
    gradient = float(net.backward().weight_gradient(l)[i, j])
    lhs = (_partial(name),)
    lines: list[_Line] = []
    if net.samples > 1:
        deltas, inputs = net.backward().delta(layer), net.fwd.activation(l)
        per_sample = [
            (_val(net.delta(layer, j, str(n + 1)), deltas[n, j]), _Op("·"), net.h(l, i, row=n))
            for n in range(net.samples)
        ]
        general_term = (net.delta(layer, j, "n"), _Op("·"), net.unit(l, i, "n"))
        total = math.fsum(float(deltas[n, j] * inputs[n, i]) for n in range(net.samples))
        lines.append(_mean_line(net, lhs, per_sample, general_term, total, gradient))
    else:
        before, factors, note = _delta_lines(net, layer, j)
        lines += before
        lines.append(_Line(lhs, _product([*factors, _Factor((net.h(l, i),))]), gradient, note=note))
    kind_words = "output weight" if layer == net.depth else "hidden weight"
    if session.phase == "updated":
        old = float(net.params.weights[l][i, j])
        new = float(session.params.weights[l][i, j])
        lines.append(_update_line(net, name, old, gradient, new))
        title = f"New value of {kind_words} {symbol} ({PHASE_TABLE['updated'].words})"
        return _derivation("weight", (l, i, j), symbol, title, session.phase, lines)
    title = f"Gradient of {kind_words} {symbol} ({PHASE_TABLE[session.phase].words})"
    return _derivation("weight", (l, i, j), f"∂L/∂{symbol}", title, session.phase, lines)


def _explain_bias(session: Session, l: int, j: int) -> Derivation:
    arch = session.arch
    symbol = bias_symbol(l + 1, j).text
    layer = l + 1
    if session.phase == "idle" or session.forward is None:
        raise _gradient_missing(session, symbol, layer)
    net = _net(session)
    if net.bwd is None or net.bwd.bias_gradients[l] is None:
        raise _gradient_missing(session, symbol, layer)
    name = net.bias(l, j)
    gradient = float(net.backward().bias_gradient(l)[j])
    lhs = (_partial(name),)
    lines: list[_Line] = []
    if net.samples > 1:
        deltas = net.backward().delta(layer)
        per_sample = [(_val(net.delta(layer, j, str(n + 1)), deltas[n, j]),) for n in range(net.samples)]
        total = math.fsum(float(d) for d in deltas[:, j])
        lines.append(_mean_line(net, lhs, per_sample, (net.delta(layer, j, "n"),), total, gradient))
    else:
        before, factors, note = _delta_lines(net, layer, j)
        lines += before
        lines.append(_Line(lhs, _product(factors), gradient, general=(net.delta(layer, j),), note=note))
    unit = unit_symbol(layer, j, len(arch.layers)).text
    what = f"bias {symbol} of {net.role(layer)} {unit}"
    if session.phase == "updated":
        old = float(net.params.biases[l][j])
        new = float(session.params.biases[l][j])
        lines.append(_update_line(net, name, old, gradient, new, session.config.train_biases))
        title = f"New value of {what} ({PHASE_TABLE['updated'].words})"
        return _derivation("bias", (l, j), symbol, title, session.phase, lines)
    title = f"Gradient of {what} ({PHASE_TABLE[session.phase].words})"
    return _derivation("bias", (l, j), f"∂L/∂{symbol}", title, session.phase, lines)


# --------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------


def _explain_loss(session: Session) -> Derivation:
    net = _net(session)
    fwd = net.fwd
    if fwd.sample_losses is None:
        raise NothingComputedError(
            "the loss comes after the forward pass reaches the output: "
            "run forward (or the next sub-step) first"
        )
    depth, row, n = net.depth, net.row, net.samples
    outputs = range(net.arch.layers[-1])
    ys = [net.h(depth, j) for j in outputs]
    ts = [_val(net.target(j), fwd.targets[row, j]) for j in outputs]
    y_j, t_j = net.unit_any(depth, "j"), net.target("j")
    note = ""
    expr: list[_Part] = []
    if net.arch.loss == "l2":
        general: _Parts = (_HALF, _Sum("j"), _Pow((_Op("("), y_j, _Op("−"), t_j, _Op(")")), "2"))
        for j in outputs:
            if j:
                expr.append(_Op("+"))
            expr.append(_Pow((_Op("("), ys[j], _Op("−"), ts[j], _Op(")")), "2"))
        expr = [_HALF, _Op("["), *expr, _Op("]")]
    elif net.arch.loss == "bce":

        def ln(*argument: _Part) -> list[_Part]:
            return [_Word("ln"), _Op("("), *argument, _Op(")")]

        def cross_entropy(y: _Part, t: _Part) -> list[_Part]:
            """t · ln(y) + (1 − t) · ln(1 − y)"""
            one_minus_t: list[_Part] = [_Op("("), _Word("1"), _Op("−"), t, _Op(")")]
            return [t, _Op("·"), *ln(y), _Op("+"), *one_minus_t, _Op("·"), *ln(_Word("1"), _Op("−"), y)]

        general = (_Op("−"), _Sum("j"), _Op("["), *cross_entropy(y_j, t_j), _Op("]"))
        for j in outputs:
            if j:
                expr.append(_Op("+"))
            expr += cross_entropy(ys[j], ts[j])
        expr = [_Op("−"), _Op("["), *expr, _Op("]")]
        note = (
            "the engine computes it from a as max(a, 0) − a·t + ln(1 + e^(−|a|)), "
            "exact even when y rounds to 0 or 1"
        )
    else:  # pragma: no cover - a loss added to the registry without a formula here
        general = ()
        expr = [_Word(net.arch.loss), _Op("("), *ys, _Op(")")]
    sample = str(row + 1) if n > 1 else ""
    own = float(fwd.sample_losses[row])
    lines = [_Line((_Name("L", sample=sample),), tuple(expr), own, general=general, note=note)]
    if n > 1:
        losses = fwd.sample_losses
        per_sample = [(_val(_Name("L", sample=str(k + 1)), losses[k]),) for k in range(n)]
        total = math.fsum(float(v) for v in losses)
        loss = fwd.loss
        assert loss is not None
        lines.append(_mean_line(net, (_Name("L"),), per_sample, (_Name("L", sample="n"),), total, loss))
        title = f"Mean loss over the {n} samples ({PHASE_TABLE[session.phase].words})"
    else:
        title = f"Loss of this sample ({PHASE_TABLE[session.phase].words})"
    return _derivation("loss", (), "L", title, session.phase, lines)


# --------------------------------------------------------------------------------------------
# The public functions
# --------------------------------------------------------------------------------------------


def check_index(arch: Architecture, kind: str, index: Sequence[int]) -> tuple[Kind, tuple[int, ...]]:
    """The kind and index, checked against the network; InvalidInputError names the valid ranges."""
    key = next((k for k in KINDS if k == kind), None)
    if key is None:
        raise InvalidInputError(f"kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    try:
        if any(isinstance(v, bool) for v in index):
            raise TypeError
        values = tuple(operator.index(v) for v in index)
    except TypeError:
        raise InvalidInputError(f"{key}: the index must be whole numbers, got {list(index)!r}") from None
    layers, depth = arch.layers, arch.depth
    shape = {"unit": "l,j", "weight": "l,i,j", "bias": "l,j", "loss": "no index"}[key]
    if len(values) != ARITY[key]:
        raise InvalidInputError(
            f"{key}: expected {shape} ({ARITY[key]} numbers), got {len(values)}: {list(values)}"
        )
    if key == "unit":
        l, j = values
        if not 0 <= l < len(layers):
            raise InvalidInputError(
                f"unit: layer l must lie in 0..{len(layers) - 1} (0 is the input), got {l}"
            )
        if not 0 <= j < layers[l]:
            raise InvalidInputError(f"unit: layer {l} has units j = 0..{layers[l] - 1}, got {j}")
    elif key in ("weight", "bias"):
        l = values[0]
        if not 0 <= l < depth:
            what = "joins layer l to layer l+1" if key == "weight" else "belongs to layer l+1"
            raise InvalidInputError(f"{key}: l must lie in 0..{depth - 1} ({key}s[l] {what}), got {l}")
        if key == "weight":
            i, j = values[1:]
            if not (0 <= i < layers[l] and 0 <= j < layers[l + 1]):
                raise InvalidInputError(
                    f"weight: weights[{l}] is {layers[l]}×{layers[l + 1]}: i must lie in "
                    f"0..{layers[l] - 1} and j in 0..{layers[l + 1] - 1}, got i = {i}, j = {j}"
                )
        else:
            j = values[1]
            if not 0 <= j < layers[l + 1]:
                raise InvalidInputError(f"bias: biases[{l}] has j = 0..{layers[l + 1] - 1}, got {j}")
    return key, values


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


_INDEX = re.compile(r"[0-9]+(?:,[0-9]+)*", re.ASCII)
_EXAMPLES: dict[Kind, str] = {"unit": "1,0", "weight": "1,2,1", "bias": "1,0", "loss": ""}


def parse_index(text: str, kind: Kind) -> tuple[int, ...]:
    """ "1,2,1" → (1, 2, 1); anything but whole numbers ≥ 0 separated by commas is refused."""
    compact = text.replace(" ", "")
    if len(compact) > 40 or not _INDEX.fullmatch(compact):
        raise InvalidInputError(
            f"{kind}: expected whole numbers separated by commas, like {kind}={_EXAMPLES[kind]}, got {text!r}"
        )
    return tuple(int(part) for part in compact.split(","))


def select(
    *,
    unit: Sequence[int] | None = None,
    weight: Sequence[int] | None = None,
    bias: Sequence[int] | None = None,
    loss: bool = False,
) -> tuple[Kind, tuple[int, ...]]:
    """The one quantity a request names; InvalidInputError unless exactly one is given."""
    selectors: tuple[tuple[Kind, Sequence[int] | None], ...] = (
        ("unit", unit),
        ("weight", weight),
        ("bias", bias),
    )
    given = [(kind, tuple(index)) for kind, index in selectors if index is not None]
    if loss:
        given.append(("loss", ()))
    if len(given) != 1:
        named = f" (got {', '.join(kind for kind, _ in given)})" if given else ""
        raise InvalidInputError(f"give exactly one of unit=l,j, weight=l,i,j, bias=l,j or loss=true{named}")
    return given[0]


# --------------------------------------------------------------------------------------------
# Check my answer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """A learner's number against the engine's."""

    #: Whether |value − expected| ≤ tolerance.
    correct: bool
    #: The result :func:`explain` gives for the quantity in the current phase.
    expected: float
    #: The largest difference accepted (see :func:`tolerance_for`).
    tolerance: float
    #: The working, to show after the answer.
    explanation: Derivation


def tolerance_for(expected: float) -> float:
    """max(10⁻³·|expected|, 10⁻⁶).

    Rounding to 4 significant digits moves a number by at most half a unit in the 4th digit, which
    is at most 5·10⁻⁴ of its size, so an answer rounded like the page's numbers always passes; an
    answer 1 % off never does. Near zero the absolute floor 10⁻⁶ takes over. A hand calculation
    chained through rounded intermediates can lose more than that where it subtracts nearly equal
    numbers (1 − y for y close to 1): carry more digits there.
    """
    return max(1e-3 * abs(expected), 1e-6)


def check(session: Session, kind: str, index: Sequence[int], value: float) -> CheckResult:
    """Mark ``value`` as the quantity explain(session, kind, index) arrives at."""
    if not math.isfinite(value):
        raise InvalidInputError("value: must be a finite number")
    derivation = explain(session, kind, index)
    expected = derivation.result
    tolerance = tolerance_for(expected)
    return CheckResult(abs(value - expected) <= tolerance, expected, tolerance, derivation)


# --------------------------------------------------------------------------------------------
# Gradient check: backprop against central finite differences
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradientRow:
    """One parameter's gradient by backprop and by finite differences."""

    #: The parameter's name in the article's notation: "w11", "u32", "w(2)13", "b(1)2".
    name: str
    #: "weight" or "bias".
    kind: Kind
    #: Its 0-based index: (l, i, j) for a weight, (l, j) for a bias.
    index: tuple[int, ...]
    #: ∂L/∂θ from engine.backward.
    backprop: float
    #: (L(θ + ε) − L(θ − ε)) / 2ε from engine.numerical_gradients.
    numerical: float
    #: backprop − numerical.
    difference: float
    #: |difference| / max(|backprop|, |numerical|), 0 when both are 0.
    relative_error: float


@dataclass(frozen=True)
class GradientCheck:
    """Backprop against finite differences for every weight and bias of a session."""

    #: The step ε of the central differences.
    epsilon: float
    #: One row per parameter: every weight (layer by layer, row-major), then every bias.
    rows: tuple[GradientRow, ...]
    #: The largest |difference| over all rows.
    max_abs_difference: float


def current_batch(session: Session) -> tuple[Array, Array]:
    """The inputs and targets of the session's current pass: its sample, or every sample in batch mode."""
    data = session.data
    if session.config.mode == "batch":
        return data.inputs, data.targets
    k = session.sample_index
    return data.inputs[k : k + 1], data.targets[k : k + 1]


def gradient_check(session: Session, epsilon: float = DEFAULT_EPSILON) -> GradientCheck:
    """Every gradient by backprop beside its central finite-difference estimate.

    Both are taken at the session's current parameters (after an update: the new ones) on the
    current batch; the session is not changed.

    Why ε = 10⁻⁶ gives agreement to about 10⁻¹⁰ here: the central difference
    (L(θ+ε) − L(θ−ε)) / 2ε differs from ∂L/∂θ by a truncation error of ε²·L'''(θ)/6 = O(ε²), about
    10⁻¹³ for these small smooth networks (L''' of order 1), plus a rounding error: each loss is
    computed to within a few machine epsilons (2.2·10⁻¹⁶) of its size, and dividing their difference
    by 2ε magnifies that to O(machine-eps·|L|/ε), about 10⁻¹⁰. A larger ε trades rounding for
    truncation (ε = 10⁻⁴: ~10⁻⁹ truncation), a smaller one the other way; 10⁻⁶ is near the balance
    for float64, so differences beyond ~10⁻⁸ mean a wrong gradient, not numerical noise (ReLU
    exactly at a kink excepted, where the derivative does not exist).
    """
    if not (math.isfinite(epsilon) and 0.0 < epsilon <= MAX_EPSILON):
        raise InvalidInputError(f"epsilon: must lie in (0, {MAX_EPSILON:g}], got {epsilon}")
    arch, params = session.arch, session.params
    inputs, targets = current_batch(session)
    grads = engine.backward(arch, params, engine.forward(arch, params, inputs, targets))
    numeric_w, numeric_b = engine.numerical_gradients(arch, params, inputs, targets, epsilon)
    count = len(arch.layers)
    rows: list[GradientRow] = []
    for l in range(arch.depth):
        backprop_w, estimate_w = grads.weight_gradient(l), numeric_w[l]
        for i, j in np.ndindex(*backprop_w.shape):
            name = weight_symbol(l, i, j, count).text
            rows.append(_row(name, "weight", (l, i, j), float(backprop_w[i, j]), float(estimate_w[i, j])))
    for l in range(arch.depth):
        backprop_b, estimate_b = grads.bias_gradient(l), numeric_b[l]
        for j in range(backprop_b.shape[0]):
            name = bias_symbol(l + 1, j).text
            rows.append(_row(name, "bias", (l, j), float(backprop_b[j]), float(estimate_b[j])))
    worst = max(abs(row.difference) for row in rows)
    return GradientCheck(epsilon, tuple(rows), worst)


def _row(name: str, kind: Kind, index: tuple[int, ...], b: float, n: float) -> GradientRow:
    scale = max(abs(b), abs(n))
    difference = b - n
    return GradientRow(name, kind, index, b, n, difference, abs(difference) / scale if scale else 0.0)
