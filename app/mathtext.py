"""Formulas as data, written out as plain text and as MathML from the same source.

A formula is a tuple of parts (:data:`Part`): names (``w21``, ``δ(2)1``, ``h⁽³⁾``), operators,
words (σ, ln), sums, powers, fractions, and :class:`Val`, a named number, which the symbolic form
writes as its name and the numeric form as its value rounded with ``notation.fmt``. A :class:`Line`
of working is written three ways, symbols = numbers = result; :func:`mathml_table` sets lines one
under the other as MathML Core (which browsers draw without a maths library).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias
from xml.sax.saxutils import escape

from app.notation import Symbol, fmt

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"


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


# --------------------------------------------------------------------------------------------
# Formulas: a few kinds of parts, rendered as plain text and as MathML from the same source.
# A Val is a named number: its symbol in the symbolic form, its rounded value in the numeric form.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    """A symbol: base, subscript (indices), layer superscript "(l)", sample superscript "(n)"."""

    base: str
    sub: str = ""
    sup: str = ""
    sample: str = ""

    @classmethod
    def of(cls, symbol: Symbol, sample: str = "") -> Name:
        return cls(symbol.base, symbol.sub, symbol.sup, sample)


@dataclass(frozen=True)
class Op:
    """An operator, relation or bracket: + − · = ← ( ) [ ] , ∂."""

    text: str


@dataclass(frozen=True)
class Word:
    """A function name (σ, tanh, ln) or a constant of the formula (1, 0)."""

    text: str


@dataclass(frozen=True)
class Sum:
    """Σ over an index."""

    under: str


@dataclass(frozen=True)
class Pow:
    """base raised to a small whole power (squares)."""

    base: tuple[Part, ...]
    exponent: str


@dataclass(frozen=True)
class Frac:
    """A fraction; ``text`` overrides the plain text (½), ``paren`` writes "(1/N)" in plain text."""

    numerator: tuple[Part, ...]
    denominator: tuple[Part, ...]
    text: str = ""
    paren: bool = False


@dataclass(frozen=True)
class Val:
    """A number with a name: ``shape`` in the symbolic form, ``value`` in the numeric form."""

    shape: tuple[Part, ...]
    value: float
    name: str


Part: TypeAlias = Name | Op | Word | Sum | Pow | Frac | Val
Parts: TypeAlias = tuple[Part, ...]

_BINARY = frozenset({"+", "−", "·", "=", "←"})
_OPEN = frozenset({"(", "["})
_CLOSE = frozenset({")", "]"})
_SUPERSCRIPTS = str.maketrans("0123456789n", "⁰¹²³⁴⁵⁶⁷⁸⁹ⁿ")
HALF = Frac((Word("1"),), (Word("2"),), text="½")


def _is_prefix(previous: Part | None) -> bool:
    """An operator at the start of a group is a sign, not a binary operator."""
    return previous is None or (isinstance(previous, Op) and previous.text in _OPEN | _BINARY | {","})


def _negative_needs_parens(parts: Parts, k: int) -> bool:
    """A negative number is bracketed unless it stands alone in its group: "0.5 − (−0.2)"."""
    previous = parts[k - 1] if k > 0 else None
    following = parts[k + 1] if k + 1 < len(parts) else None
    alone_before = previous is None or (isinstance(previous, Op) and previous.text in _OPEN | {","})
    alone_after = following is None or (
        isinstance(following, Op) and following.text in _CLOSE | _BINARY | {","}
    )
    return not (alone_before and alone_after)


def name_text(name: Name) -> str:
    sup = f"({name.sup})" if name.sup else ""
    # Letter indices take an underscore, as MATH.md writes them: δ_k, u_jk; digits do not: u21.
    sub = f"_{name.sub}" if any(c.isalpha() for c in name.sub) else name.sub
    sample = f"⁽{name.sample.translate(_SUPERSCRIPTS)}⁾" if name.sample else ""
    return f"{name.base}{sup}{sub}{sample}"


def plain(parts: Parts, numeric: bool) -> str:
    """Plain text, as in MATH.md: binary operators spaced, true minus signs."""
    return "".join(_plain_pieces(parts, numeric))


def _plain_pieces(parts: Parts, numeric: bool) -> list[str]:
    """The plain text of each part, spaced as :func:`plain` joins them."""
    out: list[str] = []
    previous: Part | None = None
    for k, part in enumerate(parts):
        if isinstance(part, Op):
            if part.text in _BINARY and not _is_prefix(previous):
                piece = f" {part.text} "
            elif part.text == ",":
                piece = ", "
            else:
                piece = part.text
            if isinstance(previous, Sum):
                piece = " " + piece  # "−Σ_j [", not "−Σ_j["
        else:
            piece = _part_text(part, numeric, parts, k)
            if previous is not None and not isinstance(previous, Op):
                piece = " " + piece  # two names side by side ("Σ_k δ(2)_k", "½ Σ_j")
        out.append(piece)
        previous = part
    return out


def _part_text(part: Part, numeric: bool, parts: Parts, k: int) -> str:
    if isinstance(part, Name):
        return name_text(part)
    if isinstance(part, Word):
        return part.text
    if isinstance(part, Sum):
        return f"Σ_{part.under}"
    if isinstance(part, Pow):
        base = plain(part.base, numeric)
        if _single_negative(part.base, numeric):
            base = f"({base})"
        return base + part.exponent.translate(_SUPERSCRIPTS)
    if isinstance(part, Frac):
        if part.text:
            return part.text
        text = f"{plain(part.numerator, numeric)}/{plain(part.denominator, numeric)}"
        return f"({text})" if part.paren else text
    if isinstance(part, Val):
        if not numeric:
            return plain(part.shape, numeric)
        text = fmt(part.value)
        return f"({text})" if text.startswith("−") and _negative_needs_parens(parts, k) else text
    raise AssertionError(part)  # pragma: no cover - every kind of part is handled above


def _single_negative(parts: Parts, numeric: bool) -> bool:
    return numeric and len(parts) == 1 and isinstance(parts[0], Val) and fmt(parts[0].value).startswith("−")


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


def _name_ml(name: Name) -> str:
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


def number_mathml(value: float) -> str:
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


def mathml(parts: Parts, numeric: bool) -> str:
    return _mrow("".join(_mathml_pieces(parts, numeric)))


def _mathml_pieces(parts: Parts, numeric: bool) -> list[str]:
    """The MathML of each part (in the context of its neighbours, which decide brackets)."""
    pieces: list[str] = []
    for k, part in enumerate(parts):
        if isinstance(part, Op):
            pieces.append('<mo separator="true">,</mo>' if part.text == "," else _mo(part.text))
        elif isinstance(part, Name):
            pieces.append(_name_ml(part))
        elif isinstance(part, Word):
            pieces.append(f"<mn>{part.text}</mn>" if part.text.isdigit() else f"<mi>{escape(part.text)}</mi>")
        elif isinstance(part, Sum):
            pieces.append(f"<munder>{_mo('∑')}<mi>{escape(part.under)}</mi></munder>")
        elif isinstance(part, Pow):
            base = mathml(part.base, numeric)
            if _single_negative(part.base, numeric):
                base = _mrow(_mo("(") + base + _mo(")"))
            pieces.append(f"<msup>{base}<mn>{part.exponent}</mn></msup>")
        elif isinstance(part, Frac):
            fraction = mathml(part.numerator, numeric) + mathml(part.denominator, numeric)
            pieces.append(f"<mfrac>{fraction}</mfrac>")
        elif numeric:
            number = number_mathml(part.value)
            if fmt(part.value).startswith("−") and _negative_needs_parens(parts, k):
                number = _mrow(_mo("(") + number + _mo(")"))
            pieces.append(number)
        else:
            pieces.append(mathml(part.shape, numeric))
    return pieces


#: Most characters (of the plain text) a row of the working holds. MathML Core does not break
#: lines, so a longer form is broken here and goes on in the next row, so that the working fits a
#: side panel (about 360 px wide) or a phone. It breaks before a + or −, else before a ·, each
#: time in as few brackets as it can: between the terms of a sum before inside one of them.
ROW_CHARS = 26


def broken(parts: Parts, numeric: bool, width: int = ROW_CHARS) -> list[tuple[int, int]]:
    """Where to break ``parts`` into rows of at most ``width`` characters: (start, stop) of each
    row's parts. A row is longer only when a single factor is (it is never broken inside)."""
    texts = _plain_pieces(parts, numeric)

    def length(start: int, stop: int) -> int:
        return len("".join(texts[start:stop]).strip())

    # Each place a row may start, ranked: fewer brackets around it first, then + − before ·.
    ranks: dict[int, tuple[int, int]] = {}
    depth = 0
    previous: Part | None = None
    for k, part in enumerate(parts):
        if isinstance(part, Op):
            if part.text in _OPEN:
                depth += 1
            elif part.text in _CLOSE:
                depth -= 1
            elif k > 0 and part.text in {"+", "−", "·"} and not _is_prefix(previous):
                ranks[k] = (depth, 0 if part.text != "·" else 1)
        previous = part

    def pieces(start: int, stop: int) -> list[tuple[int, int]]:
        inside = [k for k in ranks if start < k < stop]
        if length(start, stop) <= width or not inside:
            return [(start, stop)]
        best = min(ranks[k] for k in inside)
        cuts = [start, *(k for k in inside if ranks[k] == best), stop]
        return [piece for a, b in itertools.pairwise(cuts) for piece in pieces(a, b)]

    rows: list[tuple[int, int]] = []
    for start, stop in pieces(0, len(parts)):
        if rows and length(rows[-1][0], stop) <= width:
            rows[-1] = (rows[-1][0], stop)
        else:
            rows.append((start, stop))
    return rows


def named_values(parts: Parts) -> list[Val]:
    """The named numbers of a formula, in reading order."""
    found: list[Val] = []
    for part in parts:
        if isinstance(part, Val):
            found.append(part)
        elif isinstance(part, Pow):
            found.extend(named_values(part.base))
        elif isinstance(part, Frac):
            found.extend(named_values(part.numerator) + named_values(part.denominator))
    return found


@dataclass(frozen=True)
class Line:
    """A line of working before rendering."""

    lhs: Parts
    expr: Parts
    result: float
    #: A general form written before ``expr`` (Σ notation), or ().
    general: Parts = ()
    relation: str = "="
    note: str = ""

    def forms(self) -> list[tuple[Parts, bool]]:
        """Each form right of the lhs (general, symbols, numbers, result) as parts and whether
        they are written with numbers; redundant ones left out."""
        lhs_text = plain(self.lhs, False)
        expr_text = plain(self.expr, False)
        numeric_text = plain(self.expr, True)
        forms: list[tuple[Parts, bool]] = []
        if self.general:
            forms.append((self.general, False))
        if expr_text and expr_text != lhs_text:
            forms.append((self.expr, False))
        if numeric_text not in ("", expr_text, fmt(self.result)):
            forms.append((self.expr, True))
        forms.append(((Val((), self.result, ""),), True))
        return forms

    def steps(self) -> list[str]:
        """The MathML of each form right of the lhs, on one line each."""
        return [mathml(parts, numeric) for parts, numeric in self.forms()]

    def chain(self) -> str:
        """The MathML of everything right of the lhs, on one line."""
        chain = _mo(self.relation) + _mo("=").join(self.steps())
        if self.note:
            chain += f'<mspace width="1em"/><mtext>({escape(self.note)})</mtext>'
        return chain

    def equation(self) -> Equation:
        symbolic = " = ".join(t for t in (plain(self.general, False), plain(self.expr, False)) if t)
        whole = (
            f'<math xmlns="{MATHML_NAMESPACE}" display="block">'
            f"{_mrow(mathml(self.lhs, False) + self.chain())}</math>"
        )
        return Equation(
            lhs=plain(self.lhs, False),
            symbolic=symbolic,
            numeric=plain(self.expr, True),
            result=self.result,
            mathml=whole,
            relation=self.relation,
            note=self.note,
        )


def mathml_table(lines: Sequence[Line]) -> str:
    # One form per row, aligned on the relation, so the working fits a narrow panel and reads
    # top to bottom: lhs = symbols / = numbers / = result; a long form goes on in the next rows.
    rows: list[str] = []
    for line in lines:
        for k, (parts, numeric) in enumerate(line.forms()):
            lhs = mathml(line.lhs, False) if k == 0 else ""
            relation = line.relation if k == 0 else "="
            pieces = _mathml_pieces(parts, numeric)
            for r, (start, stop) in enumerate(broken(parts, numeric)):
                # A row that goes on is set in from the relation, as a hand-written one would be.
                lead = _mo(relation) if r == 0 else '<mspace width="1em"/>'
                cell = _mrow(lead + "".join(pieces[start:stop]))
                rows.append(f"<mtr><mtd>{lhs if r == 0 else ''}</mtd><mtd>{cell}</mtd></mtr>")
        if line.note:
            rows.append(f"<mtr><mtd></mtd><mtd><mtext>({escape(line.note)})</mtext></mtd></mtr>")
    rows_text = "".join(rows)
    return (
        f'<math xmlns="{MATHML_NAMESPACE}" display="block">'
        f'<mtable columnalign="right left" displaystyle="true">{rows_text}</mtable></math>'
    )


def named(name: Name, value: float) -> Val:
    return Val((name,), float(value), name_text(name))


def partial(name: Name) -> Frac:
    """∂L/∂name."""
    return Frac((Op("∂"), Name("L")), (Op("∂"), name))


def named_partial(name: Name, value: float) -> Val:
    return Val((partial(name),), float(value), f"∂L/∂{name_text(name)}")


def one_over_n(n: int) -> Frac:
    return Frac((Word("1"),), (Val((Name("N"),), float(n), "N"),), paren=True)
