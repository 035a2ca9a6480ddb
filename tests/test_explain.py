"""app/explain.py: every derivation arrives at the engine's own number, in every phase.

The oracle is a fresh run of the engine on the session's data and parameters (the old ones after
an update), read with the semantics of "current phase" from the issue: an activation after forward,
a δ or a gradient once the backward pass has reached it, a new value after the update.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from app import engine, explain, session
from app.errors import InvalidInputError, NothingComputedError, PhaseError
from app.explain import Derivation
from app.notation import bias_symbol, fmt, unit_symbol, weight_symbol
from app.session import Session

MATHML = "{http://www.w3.org/1998/Math/MathML}"
#: Every element a derivation may use: MathML Core, which browsers draw without a maths library.
MATHML_CORE = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "msub",
    "msup",
    "msubsup",
    "mfrac",
    "munder",
    "mtable",
    "mtr",
    "mtd",
    "mtext",
    "mspace",
}
#: Backprop against central differences with ε = 1e-6: the truncation error O(ε²) is ~1e-13 and
#: the rounding error O(machine-eps·|L|/ε) ~1e-10 (see explain.gradient_check), so 1e-8 leaves a
#: margin of 100 and still catches any real slip (a δ 0.1 % off moves a gradient by ~1e-5).

CONFIGS: dict[str, dict[str, object]] = {
    "2-3-2 sigmoid l2": {},
    "2-3-3-2 tanh linear": {"layers": [2, 3, 3, 2], "activation": "tanh", "output_activation": "linear"},
    "2-3-2 bce": {"loss": "bce", "seed": 2},
    "2-3-2 relu": {"activation": "relu", "seed": 3},
    "3-2-2-1 no biases trained": {
        "layers": [3, 2, 2, 1],
        "input": [0.5, -1.0, 2.0],
        "target": [0.25],
        "train_biases": False,
        "seed": 5,
    },
}


def forwarding(s: Session) -> Session:
    return session.run_substep(s)


def forwarding_two(s: Session) -> Session:
    return session.run_substep(session.run_substep(s))


def backwarding(s: Session) -> Session:
    return session.run_substep(session.run_forward(s))


def backward(s: Session) -> Session:
    return session.run_backward(session.run_forward(s))


PHASES: dict[str, Callable[[Session], Session]] = {
    "idle": lambda s: s,
    "forwarding": forwarding,
    "forwarding two layers": forwarding_two,
    "forward": session.run_forward,
    "backwarding": backwarding,
    "backward": backward,
    "updated": session.run_step,
}


def make(**options: object) -> Session:
    return session.create("test", **options)  # type: ignore[arg-type]


def batch(s: Session) -> tuple[engine.Array, engine.Array]:
    if s.config.mode == "batch":
        return s.data.inputs, s.data.targets
    return s.data.inputs[s.sample_index : s.sample_index + 1], s.data.targets[
        s.sample_index : s.sample_index + 1
    ]


@dataclass(frozen=True)
class Oracle:
    """A fresh engine run with the parameters the traces were computed with."""

    fwd: engine.ForwardTrace
    bwd: engine.BackwardTrace
    params: engine.Parameters
    row: int
    forward_layers: int
    backward_layers: int
    loss_done: bool


def oracle_of(s: Session) -> Oracle:
    params = s.previous if s.phase == "updated" and s.previous is not None else s.params
    inputs, targets = batch(s)
    fwd = engine.forward(s.arch, params, inputs, targets)
    bwd = engine.backward(s.arch, params, fwd)
    forward_layers = s.forward.layers_done if s.forward is not None and s.phase != "idle" else 0
    backward_layers = (
        s.backward.layers_done
        if s.backward is not None and s.phase in ("backwarding", "backward", "updated")
        else 0
    )
    row = s.sample_index if s.config.mode == "batch" else 0
    loss_done = s.phase in ("forward", "backwarding", "backward", "updated")
    return Oracle(fwd, bwd, params, row, forward_layers, backward_layers, loss_done)


def expected(s: Session, kind: str, index: tuple[int, ...]) -> float | None:
    """The number the derivation must arrive at in this phase, or None if nothing is computed."""
    o = oracle_of(s)
    depth = s.arch.depth
    if s.phase == "idle":
        return None
    if kind == "loss":
        return o.fwd.loss if o.loss_done else None
    if kind == "unit":
        layer, j = index
        if layer == 0:
            return float(o.fwd.activation(0)[o.row, j])
        if layer > depth - o.backward_layers:
            return float(o.bwd.delta(layer)[o.row, j])
        return float(o.fwd.activation(layer)[o.row, j]) if o.forward_layers >= layer else None
    l = index[0]
    if l < depth - o.backward_layers:
        return None
    if kind == "weight":
        _, i, j = index
        if s.phase == "updated":
            return float(s.params.weights[l][i, j])
        return float(o.bwd.weight_gradient(l)[i, j])
    _, j = index
    if s.phase == "updated":
        return float(s.params.biases[l][j])
    return float(o.bwd.bias_gradient(l)[j])


def quantities(arch: engine.Architecture) -> list[tuple[str, tuple[int, ...]]]:
    """Every unit, weight and bias of a network, and the loss."""
    layers = arch.layers
    found: list[tuple[str, tuple[int, ...]]] = [("loss", ())]
    found += [("unit", (l, j)) for l in range(len(layers)) for j in range(layers[l])]
    for l in range(arch.depth):
        found += [("weight", (l, i, j)) for i in range(layers[l]) for j in range(layers[l + 1])]
        found += [("bias", (l, j)) for j in range(layers[l + 1])]
    return found


def engine_names(s: Session) -> dict[str, float]:
    """Every name a derivation of an SGD session may substitute, with the engine's value."""
    o = oracle_of(s)
    count = len(s.arch.layers)
    names: dict[str, float] = {"η": s.config.learning_rate}
    for l in range(count):
        for j in range(s.arch.layers[l]):
            names[unit_symbol(l, j, count).text] = float(o.fwd.activation(l)[o.row, j])
            if l:
                names[f"a({l}){j + 1}"] = float(o.fwd.pre_activation(l)[o.row, j])
                names[f"δ({l}){j + 1}"] = float(o.bwd.delta(l)[o.row, j])
                gradient = o.bwd.activation_gradient(l)[o.row, j]
                names[f"∂L/∂{unit_symbol(l, j, count).text}"] = float(gradient)
    for j in range(s.arch.layers[-1]):
        names[f"t{j + 1}"] = float(o.fwd.targets[o.row, j])
    for l in range(s.arch.depth):
        for (i, j), w in np.ndenumerate(o.params.weights[l]):
            name = weight_symbol(l, i, j, count).text
            names[name] = float(w)
            names[f"∂L/∂{name}"] = float(o.bwd.weight_gradient(l)[i, j])
        for j, b in enumerate(o.params.biases[l]):
            name = bias_symbol(l + 1, j).text
            names[name] = float(b)
            names[f"∂L/∂{name}"] = float(o.bwd.bias_gradient(l)[j])
    return names


def assert_well_formed(derivation: Derivation) -> None:
    """MathML parses as XML in the MathML namespace, using MathML Core elements only."""
    documents = [derivation.mathml, *(e.mathml for e in derivation.equations)]
    for document in documents:
        root = ET.fromstring(document)
        assert root.tag == f"{MATHML}math"
        assert root.get("display") == "block"
        for element in root.iter():
            assert element.tag.startswith(MATHML), element.tag
            assert element.tag.removeprefix(MATHML) in MATHML_CORE, element.tag
    # One row per form (lhs = symbols, = numbers, = result), so each line of working opens a row
    # whose first cell holds its lhs; continuation rows and notes leave that cell empty.
    rows = ET.fromstring(derivation.mathml).findall(f"{MATHML}mtable/{MATHML}mtr")
    opening = [row for row in rows if len(row[0])]
    assert len(opening) == len(derivation.equations)
    assert len(rows) >= len(derivation.equations)


def assert_numbers_shown(derivation: Derivation) -> None:
    """Every substituted number appears, rounded, in the working; the lines end at the result."""
    numeric = " ".join(e.numeric for e in derivation.equations)
    for term in derivation.terms:
        assert fmt(term.value) in numeric, term
    assert derivation.equations[-1].result == derivation.result
    assert derivation.terms == tuple({t.symbol: t for t in derivation.terms}.values())  # once each


# --------------------------------------------------------------------------------------------
# Every quantity, every phase, several networks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("config", CONFIGS)
def test_every_derivation_arrives_at_the_engines_number(config: str, phase: str) -> None:
    s = PHASES[phase](make(**CONFIGS[config]))
    names = engine_names(s)
    explained = 0
    for kind, index in quantities(s.arch):
        want = expected(s, kind, index)
        if want is None:
            with pytest.raises(NothingComputedError, match="first"):
                explain.explain(s, kind, index)
            continue
        derivation = explain.explain(s, kind, index)
        explained += 1
        assert derivation.result == want, (kind, index)
        assert (derivation.kind, derivation.index, derivation.phase) == (kind, index, s.phase)
        assert_well_formed(derivation)
        assert_numbers_shown(derivation)
        for term in derivation.terms:
            assert term.value == names[term.symbol], (kind, index, term)
    assert explained or phase == "idle"


@pytest.mark.parametrize("config", CONFIGS)
def test_idle_explains_nothing_and_says_run_forward(config: str) -> None:
    s = make(**CONFIGS[config])
    for kind, index in quantities(s.arch):
        with pytest.raises(PhaseError, match="run forward"):
            explain.explain(s, kind, index)


def test_nothing_computed_is_a_phase_error() -> None:
    assert issubclass(NothingComputedError, PhaseError)


@pytest.mark.parametrize(
    ("phase", "kind", "index", "message"),
    [
        (
            "forward",
            "weight",
            (1, 1, 0),
            "the gradient of u21 comes from the backward pass: run backward first",
        ),
        ("forward", "bias", (0, 0), "the gradient of b(1)1 comes from the backward pass: run backward first"),
        ("forwarding", "weight", (0, 0, 0), "finish the forward pass"),
        ("forwarding", "unit", (2, 0), "y1 is computed when the forward pass reaches layer 2"),
        ("forwarding", "loss", (), "the loss comes after the forward pass reaches the output"),
        ("backwarding", "weight", (0, 0, 0), "the backward pass reaches layer 1"),
        ("idle", "weight", (0, 0, 0), "run forward, then backward, first"),
        ("idle", "unit", (0, 0), "x1 comes from the forward pass"),
    ],
)
def test_nothing_computed_says_which_step_comes_first(
    phase: str, kind: str, index: tuple[int, ...], message: str
) -> None:
    s = PHASES[phase](make())
    with pytest.raises(NothingComputedError) as error:
        explain.explain(s, kind, index)
    assert message in str(error.value)


def test_units_show_the_activation_until_their_delta_exists() -> None:
    s = backwarding(make())  # δ of the output layer only
    hidden = explain.explain(s, "unit", (1, 0))
    output = explain.explain(s, "unit", (2, 0))
    assert (hidden.quantity, output.quantity) == ("h1", "δ(2)1")
    assert hidden.result == s.forward.activation(1)[0, 0]  # type: ignore[union-attr]
    assert output.result == s.backward.delta(2)[0, 0]  # type: ignore[union-attr]
    after = session.run_substep(s)
    assert explain.explain(after, "unit", (1, 0)).quantity == "δ(1)1"


# --------------------------------------------------------------------------------------------
# The working itself, on the article's 2-3-2 network
# --------------------------------------------------------------------------------------------


def paren(value: float) -> str:
    """How a substituted number reads after an operator: negative ones bracketed."""
    text = fmt(value)
    return f"({text})" if text.startswith("−") else text


def test_unit_after_forward_is_the_weighted_sum_then_the_sigmoid() -> None:
    s = session.run_forward(make())
    fwd, w, b = s.forward, s.params.weights[0], s.params.biases[0]
    assert fwd is not None
    d = explain.explain(s, "unit", (1, 0))
    assert (d.quantity, d.title) == ("h1", "Activation of hidden unit h1 (after forward)")
    a, h = d.equations
    assert a.lhs == "a(1)1"
    assert a.symbolic == "Σ_i x_i · w_i1 + b(1)1 = x1 · w11 + x2 · w21 + b(1)1"
    assert a.numeric == f"0.05 · {fmt(w[0, 0])} + 0.1 · {paren(w[1, 0])} + {paren(b[0])}"
    assert a.result == fwd.pre_activation(1)[0, 0]
    assert (h.lhs, h.symbolic, h.numeric) == ("h1", "σ(a(1)1)", f"σ({fmt(a.result)})")
    assert d.result == h.result == fwd.activation(1)[0, 0]


def test_input_unit_is_given() -> None:
    d = explain.explain(session.run_forward(make()), "unit", (0, 1))
    assert (d.quantity, d.title, d.result) == ("x2", "Input x2 (given)", 0.1)
    assert d.equations[0].note == "the input is given"


def test_output_weight_after_backward_is_the_articles_product() -> None:
    s = backward(make())
    fwd, bwd = s.forward, s.backward
    assert fwd is not None and bwd is not None
    y1, t1, h2 = fwd.activation(2)[0, 0], 0.01, fwd.activation(1)[0, 1]
    d = explain.explain(s, "weight", (1, 1, 0))
    assert (d.quantity, d.title) == ("∂L/∂u21", "Gradient of output weight u21 (after backward)")
    (line,) = d.equations
    assert line.lhs == "∂L/∂u21"
    assert line.symbolic == "(y1 − t1) · y1(1 − y1) · h2"
    assert line.numeric == f"({fmt(y1)} − 0.01) · {fmt(y1)}(1 − {fmt(y1)}) · {fmt(h2)}"
    assert d.result == bwd.weight_gradient(1)[1, 0]
    assert [(t.symbol, t.value) for t in d.terms] == [("y1", y1), ("t1", t1), ("h2", h2)]
    assert d.result == pytest.approx((y1 - t1) * y1 * (1 - y1) * h2, rel=1e-14)


def test_hidden_weight_sums_over_every_output_then_multiplies() -> None:
    s = backward(make())
    fwd, bwd, u = s.forward, s.backward, s.params.weights[1]
    assert fwd is not None and bwd is not None
    d = explain.explain(s, "weight", (0, 0, 0))
    hidden_sum, product = d.equations
    # ∂L/∂h1 = Σ_k δ_k u_1k: one term per output, the "no hidden target" step.
    assert hidden_sum.lhs == "∂L/∂h1"
    assert hidden_sum.symbolic == "Σ_k δ(2)_k · u_1k = δ(2)1 · u11 + δ(2)2 · u12"
    deltas = bwd.delta(2)[0]
    assert hidden_sum.numeric == f"{fmt(deltas[0])} · {fmt(u[0, 0])} + {paren(deltas[1])} · {paren(u[0, 1])}"
    values = {t.symbol: t.value for t in d.terms}
    products = [values[f"δ(2){k}"] * values[f"u1{k}"] for k in (1, 2)]
    assert len(products) == s.arch.layers[2]
    assert hidden_sum.result == bwd.activation_gradient(1)[0, 0]
    assert math.fsum(products) == pytest.approx(hidden_sum.result, rel=1e-14)
    assert product.symbolic == "∂L/∂h1 · h1(1 − h1) · x1"
    h1 = fwd.activation(1)[0, 0]
    assert product.numeric == f"{fmt(hidden_sum.result)} · {fmt(h1)}(1 − {fmt(h1)}) · 0.05"
    assert d.result == product.result == bwd.weight_gradient(0)[0, 0]


def test_hidden_delta_shows_the_sum_then_the_derivative() -> None:
    s = backward(make())
    d = explain.explain(s, "unit", (1, 2))
    assert d.quantity == "δ(1)3"
    assert [e.lhs for e in d.equations] == ["∂L/∂h3", "δ(1)3"]
    assert d.equations[1].symbolic == "∂L/∂h3 · h3(1 − h3)"
    assert d.result == s.backward.delta(1)[0, 2]  # type: ignore[union-attr]


def test_output_delta_uses_the_activations_derivative() -> None:
    deep = backward(make(**CONFIGS["2-3-3-2 tanh linear"]))
    assert explain.explain(deep, "unit", (3, 0)).equations[0].symbolic == "(y1 − t1) · 1"
    hidden = explain.explain(deep, "unit", (2, 0)).equations
    assert hidden[0].symbolic == "Σ_k δ(3)_k · w(3)_1k = δ(3)1 · w(3)11 + δ(3)2 · w(3)12"
    assert hidden[1].symbolic == "∂L/∂h(2)1 · (1 − h(2)1²)"
    relu = explain.explain(backward(make(activation="relu")), "unit", (1, 0)).equations[1]
    assert relu.symbolic == "∂L/∂h1 · relu′(a(1)1)"
    assert relu.note == "relu′(a) = 1 if a > 0 else 0"


def test_cross_entropy_delta_is_y_minus_t() -> None:
    s = backward(make(loss="bce"))
    d = explain.explain(s, "unit", (2, 1))
    assert d.equations[0].symbolic == "y2 − t2"
    assert "σ′ cancels" in d.equations[0].note
    loss = explain.explain(s, "loss", ())
    assert loss.equations[0].symbolic.startswith("−Σ_j [t_j · ln(y_j) + (1 − t_j) · ln(1 − y_j)]")
    assert loss.result == s.forward.loss  # type: ignore[union-attr]


def test_loss_is_half_the_squared_errors() -> None:
    s = session.run_forward(make())
    fwd = s.forward
    assert fwd is not None
    y = fwd.activation(2)[0]
    d = explain.explain(s, "loss", ())
    (line,) = d.equations
    assert line.symbolic == "½ Σ_j (y_j − t_j)² = ½[(y1 − t1)² + (y2 − t2)²]"
    assert line.numeric == f"½[({fmt(y[0])} − 0.01)² + ({fmt(y[1])} − 0.99)²]"
    assert d.result == fwd.loss
    assert (d.quantity, d.title) == ("L", "Loss of this sample (after forward)")


def test_update_line_is_old_minus_eta_times_gradient() -> None:
    s = session.run_step(make())
    assert s.previous is not None and s.backward is not None
    d = explain.explain(s, "weight", (0, 0, 0))
    assert (d.quantity, d.title) == ("w11", "New value of hidden weight w11 (after update)")
    *_, gradient_line, update = d.equations
    old, g = s.previous.weights[0][0, 0], s.backward.weight_gradient(0)[0, 0]
    assert gradient_line.result == g
    assert (update.lhs, update.relation, update.symbolic) == ("w11", "←", "w11 − η · ∂L/∂w11")
    assert update.numeric == f"{fmt(old)} − 0.5 · {paren(g)}"
    assert d.result == s.params.weights[0][0, 0]
    assert d.result == pytest.approx(old - 0.5 * g, rel=1e-15)
    assert ("w11", old) in [(t.symbol, t.value) for t in d.terms]


def test_untrained_bias_stays_and_says_so() -> None:
    s = session.run_step(make(train_biases=False))
    assert s.previous is not None
    d = explain.explain(s, "bias", (1, 0))
    update = d.equations[-1]
    assert update.relation == "←" and "not trained" in update.note
    assert d.result == s.params.biases[1][0] == s.previous.biases[1][0]
    trained = explain.explain(session.run_step(make()), "bias", (1, 0)).equations[-1]
    assert trained.symbolic == "b(2)1 − η · ∂L/∂b(2)1"


def test_bias_gradient_is_delta() -> None:
    s = backward(make())
    d = explain.explain(s, "bias", (1, 1))
    assert d.equations[0].symbolic == "δ(2)2 = (y2 − t2) · y2(1 − y2)"
    assert d.result == s.backward.bias_gradient(1)[1] == s.backward.delta(2)[0, 1]  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# Batch mode: gradients are means over the samples; units use the current sample's row
# --------------------------------------------------------------------------------------------


def test_batch_gradient_is_the_mean_written_out() -> None:
    s = backward(make(dataset="xor", mode="batch"))
    fwd, bwd = s.forward, s.backward
    assert fwd is not None and bwd is not None
    d = explain.explain(s, "weight", (1, 2, 0))
    (line,) = d.equations
    assert line.symbolic.startswith("(1/N) Σ_n δ(2)1⁽ⁿ⁾ · h3⁽ⁿ⁾ = (1/N)[δ(2)1⁽¹⁾ · h3⁽¹⁾ + ")
    assert line.numeric.startswith("(1/4)[")
    values = {t.symbol: t.value for t in d.terms}
    assert values["N"] == 4.0
    for n in range(4):
        assert values[f"δ(2)1{'⁽¹⁾⁽²⁾⁽³⁾⁽⁴⁾'[3 * n : 3 * n + 3]}"] == bwd.delta(2)[n, 0]
    products = [bwd.delta(2)[n, 0] * fwd.activation(1)[n, 2] for n in range(4)]
    assert d.result == bwd.weight_gradient(1)[2, 0]
    assert math.fsum(products) / 4 == pytest.approx(d.result, rel=1e-13)
    assert_well_formed(d)
    assert_numbers_shown(d)


def test_batch_units_use_the_current_sample() -> None:
    s = session.run_forward(session.edit(make(dataset="xor", mode="batch"), sample_index=2))
    fwd = s.forward
    assert fwd is not None
    d = explain.explain(s, "unit", (1, 1))
    assert d.result == fwd.activation(1)[2, 1]
    assert {t.symbol: t.value for t in d.terms}["x1"] == 1.0  # xor's third sample is (1, 0)
    loss = explain.explain(s, "loss", ())
    assert [e.lhs for e in loss.equations] == ["L⁽³⁾", "L"]
    assert loss.equations[0].result == fwd.sample_losses[2]  # type: ignore[index]
    assert loss.result == fwd.loss


def test_large_batch_shows_the_formula_and_the_sum() -> None:
    s = session.run_step(make(dataset="blobs", mode="batch"))
    d = explain.explain(s, "bias", (0, 1))
    gradient, update = d.equations
    assert gradient.numeric.startswith("(1/24) · ")
    assert (update.relation, update.symbolic) == ("←", "b(1)2 − η · ∂L/∂b(1)2")
    assert [t.symbol for t in d.terms][:2] == ["N", "Σ_n δ(1)2⁽ⁿ⁾"]
    assert gradient.result == s.backward.bias_gradient(0)[1]  # type: ignore[union-attr]
    assert d.result == s.params.biases[0][1]
    assert_well_formed(d)


# --------------------------------------------------------------------------------------------
# Indices
# --------------------------------------------------------------------------------------------


def test_index_errors_come_before_phase_errors() -> None:
    with pytest.raises(InvalidInputError):
        explain.explain(make(), "weight", (5, 0, 0))


def test_a_leading_negative_needs_no_brackets() -> None:
    d = explain.explain(backward(make()), "bias", (0, 1))
    assert "(−" not in d.equations[-1].numeric.split(" · ")[0]
