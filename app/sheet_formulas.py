"""What a sheet says in words and formulas: the names of its blanks and the formulas to use, in the
article's notation as MathML (the sheet and key pages place them)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from app.engine import Architecture
from app.notation import Symbol, bias_symbol, unit_symbol, weight_symbol
from app.sheets import Blank, Sheet

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"


# --------------------------------------------------------------------------------------------
# MathML: names and formulas in the article's notation
# --------------------------------------------------------------------------------------------


def _mi(text: str) -> str:
    return f"<mi>{escape(text)}</mi>"


def _mn(text: str) -> str:
    return f"<mn>{escape(text)}</mn>"


def _mo(text: str) -> str:
    return f"<mo>{escape(text)}</mo>"


def _row_ml(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def _index(text: str) -> str:
    return (
        "".join(_mn(c) if c.isdigit() else _mi(c) for c in text)
        if len(text) > 1
        else (_mn(text) if text.isdigit() else _mi(text))
    )


def _name(base: str, sub: str = "", sup: str = "") -> str:
    """base with subscript indices and a layer superscript "(l)"."""
    b = _mi(base)
    sup_ml = _row_ml(_mo("("), _mn(sup), _mo(")")) if sup else ""
    sub_ml = _row_ml(_index(sub)) if sub else ""
    if sub and sup:
        return f"<msubsup>{b}{sub_ml}{sup_ml}</msubsup>"
    if sub:
        return f"<msub>{b}{sub_ml}</msub>"
    if sup:
        return f"<msup>{b}{sup_ml}</msup>"
    return b


def _of(symbol: Symbol, sub: str | None = None) -> str:
    return _name(symbol.base, symbol.sub if sub is None else sub, symbol.sup)


def _partial(of: str) -> str:
    return _frac(_row_ml(_mo("∂"), _mi("L")), _row_ml(_mo("∂"), of))


def _sum(under: str) -> str:
    return f"<munder>{_mo('∑')}{_mi(under)}</munder>"


def _math(*parts: str) -> str:
    return f'<math xmlns="{MATHML_NAMESPACE}" display="block">{_row_ml(*parts)}</math>'


def _inline(*parts: str) -> str:
    return f'<math xmlns="{MATHML_NAMESPACE}">{_row_ml(*parts)}</math>'


def _paren(*parts: str) -> str:
    return _row_ml(_mo("("), *parts, _mo(")"))


def _frac(numerator: str, denominator: str) -> str:
    return f"<mfrac>{numerator}{denominator}</mfrac>"


def _power(base: str, exponent: str) -> str:
    return f"<msup>{base}{exponent}</msup>"


_SPACE = '<mspace width="1.5em"/>'


def _words(text: str) -> str:
    """Words inside a formula, with a space either side."""
    return f"<mtext>\u00a0{escape(text)}\u00a0</mtext>"


@dataclass(frozen=True)
class BlankName:
    """How a blank is named on the sheet."""

    #: Plain text, as the visualizer's working names it: "h1", "δ(2)1", "∂L/∂u21", "new u21", "L".
    text: str
    #: The same as inline MathML.
    mathml: str
    #: What it is, in words: "activation of hidden unit h1".
    words: str


def blank_name(arch: Architecture, blank: Blank) -> BlankName:
    count = len(arch.layers)
    if blank.kind == "loss":
        return BlankName("L", _inline(_mi("L")), "the loss of the sample")
    if blank.kind == "unit":
        layer, j = blank.index
        symbol = unit_symbol(layer, j, count)
        role = "output" if layer == count - 1 else "hidden unit"
        if blank.phase == "forward":
            return BlankName(symbol.text, _inline(_of(symbol)), f"activation of {role} {symbol.text}")
        delta = Symbol("δ", str(j + 1), str(layer))
        return BlankName(delta.text, _inline(_of(delta)), f"δ = ∂L/∂a of {role} {symbol.text}")
    if blank.kind == "weight":
        l, i, j = blank.index
        symbol = weight_symbol(l, i, j, count)
        what = "weight"
    else:
        l, j = blank.index
        symbol = bias_symbol(l + 1, j)
        what = "bias"
    if blank.phase == "backward":
        return BlankName(
            f"∂L/∂{symbol.text}", _inline(_partial(_of(symbol))), f"gradient of {what} {symbol.text}"
        )
    return BlankName(f"new {symbol.text}", _inline(_of(symbol)), f"{what} {symbol.text} after the update")


def _derivative(activation: str, unit: str) -> list[str]:
    """f'(a) in terms of the unit's value, as the article writes σ': o(1 − o)."""
    if activation == "sigmoid":
        return [unit, _paren(_mn("1"), _mo("−"), unit)]
    if activation == "tanh":
        return [_paren(_mn("1"), _mo("−"), _power(unit, _mn("2")))]
    if activation == "linear":
        return [_mn("1")]
    return [_row_ml(_mi("relu"), _mo("′"), _paren(_mi("a")))]


ACTIVATION_DEFINITIONS = {
    "sigmoid": _math(
        _mi("σ"),
        _paren(_mi("a")),
        _mo("="),
        _frac(_mn("1"), _row_ml(_mn("1"), _mo("+"), _power(_mi("e"), _row_ml(_mo("−"), _mi("a"))))),
    ),
    "tanh": _math(
        _mi("tanh"),
        _mo("′"),
        _paren(_mi("a")),
        _mo("="),
        _mn("1"),
        _mo("−"),
        _power(_mi("tanh"), _mn("2")),
        _paren(_mi("a")),
    ),
    "relu": _math(
        _mi("relu"),
        _paren(_mi("a")),
        _mo("="),
        _mi("max"),
        _paren(_mn("0"), _mo(","), _mi("a")),
        _mo(","),
        _SPACE,
        _mi("relu"),
        _mo("′"),
        _paren(_mi("a")),
        _mo("="),
        _mn("1"),
        _words("if"),
        _mi("a"),
        _mo(">"),
        _mn("0"),
        _mo(","),
        _words("else"),
        _mn("0"),
    ),
    "linear": _math(_mi("f"), _paren(_mi("a")), _mo("="), _mi("a")),
}


@dataclass(frozen=True)
class Formula:
    """One formula of the sheet: a heading it belongs to and its MathML."""

    section: str
    mathml: str


def formulas(sheet: Sheet) -> tuple[Formula, ...]:
    """The formulas needed for the phases the sheet asks about, in the article's notation."""
    arch, phases = sheet.arch, sheet.spec.phases
    count, depth = len(arch.layers), arch.depth
    found: list[Formula] = []

    def unit(layer: int, letter: str) -> str:
        return _of(unit_symbol(layer, 0, count), letter)

    def weight(l: int, letters: str) -> str:
        return _of(weight_symbol(l, 0, 0, count), letters)

    for layer in range(1, depth + 1):
        l = layer - 1
        a = _name("a", "j", str(layer))
        f = arch.activation_of(layer).name
        found.append(
            Formula(
                "Forward",
                _math(
                    a,
                    _mo("="),
                    _sum("i"),
                    unit(l, "i"),
                    weight(l, "ij"),
                    _mo("+"),
                    _name("b", "j", str(layer)),
                ),
            )
        )
        applied = _row_ml(_mi("σ" if f == "sigmoid" else f), _paren(a)) if f != "linear" else a
        found.append(Formula("Forward", _math(unit(layer, "j"), _mo("="), applied)))
    for name in dict.fromkeys(arch.activation_of(layer).name for layer in range(1, depth + 1)):
        found.append(Formula("Forward", ACTIVATION_DEFINITIONS[name]))
    y, t = unit(depth, "j"), _name("t", "j")
    if arch.loss == "l2":
        half = _frac(_mn("1"), _mn("2"))
        found.append(
            Formula(
                "Forward",
                _math(_mi("L"), _mo("="), half, _sum("j"), _power(_paren(y, _mo("−"), t), _mn("2"))),
            )
        )
    else:
        ln = _mi("ln")
        found.append(
            Formula(
                "Forward",
                _math(
                    _mi("L"),
                    _mo("="),
                    _mo("−"),
                    _sum("j"),
                    _row_ml(
                        _mo("["),
                        t,
                        ln,
                        y,
                        _mo("+"),
                        _paren(_mn("1"), _mo("−"), t),
                        ln,
                        _paren(_mn("1"), _mo("−"), y),
                        _mo("]"),
                    ),
                ),
            )
        )
    if "backward" in phases or "update" in phases:
        out = _name("δ", "j", str(depth))
        if arch.loss_function.requires_output == "sigmoid":
            found.append(Formula("Backward", _math(out, _mo("="), y, _mo("−"), t)))
        else:
            found.append(
                Formula(
                    "Backward",
                    _math(
                        out,
                        _mo("="),
                        _paren(y, _mo("−"), t),
                        _mo("·"),
                        *_derivative(arch.activation_of(depth).name, y),
                    ),
                )
            )
        for layer in range(depth - 1, 0, -1):
            h = unit(layer, "j")
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _partial(h), _mo("="), _sum("k"), _name("δ", "k", str(layer + 1)), weight(layer, "jk")
                    ),
                )
            )
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _name("δ", "j", str(layer)),
                        _mo("="),
                        _partial(h),
                        _mo("·"),
                        *_derivative(arch.activation_of(layer).name, h),
                    ),
                )
            )
        for layer in range(depth, 0, -1):
            l = layer - 1
            found.append(
                Formula(
                    "Backward",
                    _math(
                        _partial(weight(l, "ij")),
                        _mo("="),
                        _name("δ", "j", str(layer)),
                        _mo("·"),
                        unit(l, "i"),
                        _SPACE,
                        _partial(_name("b", "j", str(layer))),
                        _mo("="),
                        _name("δ", "j", str(layer)),
                    ),
                )
            )
    if "update" in phases:
        eta = _mi("η")
        for l in range(depth):
            w = weight(l, "ij")
            found.append(Formula("Update", _math(w, _mo("←"), w, _mo("−"), eta, _partial(w))))
        b = _name("b", "j")
        if sheet.start.config.train_biases:
            found.append(Formula("Update", _math(b, _mo("←"), b, _mo("−"), eta, _partial(b))))
        else:
            found.append(
                Formula(
                    "Update",
                    _math(b, _mo("←"), b, _SPACE, _words("(the biases are not trained)")),
                )
            )
    return tuple(found)
