"""Tests of app/engine.py against independent oracles.

The oracles are finite differences (the engine's own helper and one written here that shares no code
with the engine), the closed forms of MATH.md evaluated with plain Python loops, and the published
numbers of Matt Mazur's "A Step by Step Backpropagation Example" (2015).
"""

from __future__ import annotations

import copy
import math
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from app import engine
from app.engine import (
    Architecture,
    Array,
    BackwardTrace,
    ForwardTrace,
    Parameters,
)
from app.errors import DivergenceError, InvalidInputError, PhaseError
from app.limits import MAX_ABS_VALUE

ACTIVATION_NAMES = ["sigmoid", "tanh", "relu", "linear"]
#: Every (output activation, loss) pair the engine accepts: L2 with any output, BCE with sigmoid.
OUTPUT_LOSSES = [
    ("sigmoid", "l2"),
    ("tanh", "l2"),
    ("relu", "l2"),
    ("linear", "l2"),
    ("sigmoid", "bce"),
]
#: From the smallest network to the largest (6 layers of 8), with a bottleneck and uneven widths.
SHAPES = [(2, 3, 2), (1, 1), (3, 5, 4, 2), (2, 8, 8, 8, 8, 1), (4, 1, 6), (8, 8, 8, 8, 8, 8)]
#: A single sample and a batch of several.
BATCH_SIZES = [1, 5]

#: Step of every central difference, the engine's default. Truncation error is ~ε²|L'''| ≈ 1e-12 and
#: rounding error ~2⁻⁵³|L|/ε ≲ 1e-9 for the losses drawn here (|L| < 10).
FD_EPSILON = 1e-6
#: Backprop and central differences must agree to 1e-6 relative, which a wrong factor, index or sign
#: breaks by orders of magnitude ...
FD_RTOL = 1e-6
#: ... with an absolute floor for gradients near zero, where the ≲1e-9 rounding noise of the
#: difference quotient dominates; 1e-8 is ten times that noise at its largest. (Measured: the worst
#: case here uses 15 % of the allowed error, so the checks are tight but not flaky.)
FD_ATOL = 1e-8
#: No pre-activation may lie this close to ReLU's kink at 0: a parameter perturbed by ε = 1e-6 moves
#: every pre-activation by far less than that, so no difference quotient straddles the kink.
KINK_MARGIN = 1e-3
#: Draws rejected for lying near a kink are rare; this many failures in a row means broken test data.
MAX_DRAWS = 200

#: The loop-and-scalar closed forms and the engine's matrix products evaluate the same expressions,
#: in a different summation order and with σ computed differently (math.exp here; the engine may use
#: any formula accurate to ~1e-14 relative). Differences such as y − t and 1 − y can amplify that by
#: up to ~1e3 for the values drawn here, so 1e-10 relative: still ten orders of magnitude below the
#: O(1) error of a wrong formula, index or factor.
CLOSED_FORM_RTOL = 1e-10
#: Absolute floor for entries that are zero or cancel to near zero (gradients here are ≥ 1e-6).
CLOSED_FORM_ATOL = 1e-15

CaseDraw = tuple[Parameters, Array, Array]


def shape_id(layers: Sequence[int]) -> str:
    return "-".join(str(units) for units in layers)


def case_seed(*parts: object) -> int:
    """A stable seed per test case (str hashes are salted per process; CRC32 is not)."""
    return zlib.crc32(repr(parts).encode())


def draw_case(arch: Architecture, n_samples: int, seed: int) -> CaseDraw:
    """Random parameters, inputs and targets with every pre-activation at least KINK_MARGIN from 0.

    Weights and biases are U(−s, s) with s = 1.7/√fan_in (variance ≈ 1/fan_in), so pre-activations
    stay of order one and no layer saturates or explodes; targets lie in (0, 1) so they suit
    cross-entropy too. Every layer has at least one unit with a > KINK_MARGIN somewhere in the batch,
    so under ReLU some path from input to loss is alive and the gradient is not trivially zero.
    """
    rng = np.random.default_rng(seed)
    for _ in range(MAX_DRAWS):
        scales = [1.7 / math.sqrt(fan_in) for fan_in in arch.layers[:-1]]
        weights = tuple(
            rng.uniform(-s, s, size=(arch.layers[l], arch.layers[l + 1])) for l, s in enumerate(scales)
        )
        biases = tuple(rng.uniform(-s, s, size=arch.layers[l + 1]) for l, s in enumerate(scales))
        inputs = rng.uniform(-1.0, 1.0, size=(n_samples, arch.layers[0]))
        targets = rng.uniform(0.05, 0.95, size=(n_samples, arch.layers[-1]))
        params = Parameters(weights, biases)
        fwd = engine.forward(arch, params, inputs, targets)
        pre = [fwd.pre_activation(layer) for layer in range(1, arch.depth + 1)]
        if all(np.min(np.abs(a)) >= KINK_MARGIN and np.max(a) > KINK_MARGIN for a in pre):
            return params, inputs, targets
    raise AssertionError(f"no draw in {MAX_DRAWS} kept clear of ReLU's kink; the test data is broken")


def architectures() -> list[tuple[str, str, str]]:
    """Every (hidden activation, output activation, loss) the engine accepts."""
    return [(hidden, out, loss) for hidden in ACTIVATION_NAMES for out, loss in OUTPUT_LOSSES]


ARCH_IDS = [f"{hidden}-{out}-{loss}" for hidden, out, loss in architectures()]


@contextmanager
def floats_strict() -> Iterator[None]:
    """Every warning is an error, and overflow, division by zero and invalid operations raise.

    Underflow stays at numpy's default ("ignore", so it never warns): e^(−|a|) flushing to 0.0 for a
    large |a| is the correctly rounded result and is exactly how the engine keeps σ and cross-entropy
    finite (σ(−1e6) = e^(−1e6)/(1 + e^(−1e6)) = 0.0).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield


def snapshot(params: Parameters) -> list[bytes]:
    """The exact bytes of every parameter array, to prove something was left untouched."""
    return [array.tobytes() for array in (*params.weights, *params.biases)]


# --------------------------------------------------------------------------------------------
# An independent forward pass and central difference: no engine code at all.
# --------------------------------------------------------------------------------------------


def reference_sigmoid(a: Array) -> Array:
    result: Array = 1.0 / (1.0 + np.exp(-a))
    return result


def reference_tanh(a: Array) -> Array:
    # Written through the exponential rather than np.tanh, so it shares nothing with the engine.
    result: Array = 2.0 / (1.0 + np.exp(-2.0 * a)) - 1.0
    return result


def reference_relu(a: Array) -> Array:
    result: Array = np.where(a > 0.0, a, 0.0)
    return result


def reference_linear(a: Array) -> Array:
    return a


REFERENCE_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": reference_sigmoid,
    "tanh": reference_tanh,
    "relu": reference_relu,
    "linear": reference_linear,
}


def reference_loss(
    arch: Architecture, weights: Sequence[Array], biases: Sequence[Array], x: Array, t: Array
) -> float:
    """Mean over the batch of L2 (½Σ(y−t)²) or cross-entropy (−Σ[t ln y + (1−t) ln(1−y)])."""
    h = x
    for l in range(arch.depth):
        name = arch.output_activation if l == arch.depth - 1 else arch.activation
        h = REFERENCE_ACTIVATIONS[name](h @ weights[l] + biases[l])
    if arch.loss == "l2":
        per_sample = 0.5 * np.sum((h - t) ** 2, axis=1)
    else:
        per_sample = -np.sum(t * np.log(h) + (1.0 - t) * np.log(1.0 - h), axis=1)
    return float(np.mean(per_sample))


def reference_central_differences(
    arch: Architecture, params: Parameters, x: Array, t: Array
) -> tuple[list[Array], list[Array]]:
    """(L(θ + ε) − L(θ − ε)) / 2ε for every weight and bias, on copies made here."""
    weights = [np.array(w, dtype=np.float64) for w in params.weights]
    biases = [np.array(b, dtype=np.float64) for b in params.biases]

    def difference(array: Array, index: tuple[int, ...]) -> float:
        original = array[index]
        array[index] = original + FD_EPSILON
        plus = reference_loss(arch, weights, biases, x, t)
        array[index] = original - FD_EPSILON
        minus = reference_loss(arch, weights, biases, x, t)
        array[index] = original
        return (plus - minus) / (2.0 * FD_EPSILON)

    weight_grads = []
    for w in weights:
        grad = np.zeros_like(w)
        for index in np.ndindex(*w.shape):
            grad[index] = difference(w, index)
        weight_grads.append(grad)
    bias_grads = []
    for b in biases:
        grad = np.zeros_like(b)
        for index in np.ndindex(*b.shape):
            grad[index] = difference(b, index)
        bias_grads.append(grad)
    return weight_grads, bias_grads


# --------------------------------------------------------------------------------------------
# 1. Finite-difference gradient checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_samples", BATCH_SIZES)
@pytest.mark.parametrize("layers", SHAPES, ids=shape_id)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_backward_matches_engine_central_differences(
    hidden: str, output: str, loss: str, layers: tuple[int, ...], n_samples: int
) -> None:
    arch = Architecture(layers, hidden, output, loss)
    params, x, t = draw_case(arch, n_samples, case_seed(layers, hidden, output, loss, n_samples))
    # A single sample goes in as a flat vector: the engine must treat it as a batch of one.
    inputs, targets = (x[0], t[0]) if n_samples == 1 else (x, t)

    grads = engine.backward(arch, params, engine.forward(arch, params, inputs, targets))
    numeric_w, numeric_b = engine.numerical_gradients(arch, params, inputs, targets, FD_EPSILON)

    for l in range(arch.depth):
        np.testing.assert_allclose(
            grads.weight_gradient(l), numeric_w[l], rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"weights[{l}]"
        )
        np.testing.assert_allclose(
            grads.bias_gradient(l), numeric_b[l], rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"biases[{l}]"
        )
    # The comparison means something only if the gradient is well above the absolute floor.
    largest = max(float(np.max(np.abs(g))) for g in (*numeric_w, *numeric_b))
    assert largest > 1e3 * FD_ATOL


@pytest.mark.parametrize(
    ("layers", "n_samples"),
    [((3, 5, 4, 2), 4), ((2, 3, 2), 1), ((2, 8, 8, 8, 8, 1), 3)],
    ids=["3-5-4-2-batch4", "2-3-2-single", "2-8-8-8-8-1-batch3"],
)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_backward_matches_independent_central_differences(
    hidden: str, output: str, loss: str, layers: tuple[int, ...], n_samples: int
) -> None:
    """The same check with an oracle written here: its own forward pass, loss and perturbation."""
    arch = Architecture(layers, hidden, output, loss)
    params, x, t = draw_case(arch, n_samples, case_seed("independent", layers, hidden, output, loss))

    fwd = engine.forward(arch, params, x, t)
    # The same loss, evaluated independently (the engine's cross-entropy works from the logit, the
    # reference from ln y): with y well inside (0, 1) they agree as closely as the closed forms do.
    expected = reference_loss(arch, params.weights, params.biases, x, t)
    assert fwd.loss == pytest.approx(expected, rel=CLOSED_FORM_RTOL)

    grads = engine.backward(arch, params, fwd)
    numeric_w, numeric_b = reference_central_differences(arch, params, x, t)
    for l in range(arch.depth):
        np.testing.assert_allclose(
            grads.weight_gradient(l), numeric_w[l], rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"weights[{l}]"
        )
        np.testing.assert_allclose(
            grads.bias_gradient(l), numeric_b[l], rtol=FD_RTOL, atol=FD_ATOL, err_msg=f"biases[{l}]"
        )
    largest = max(float(np.max(np.abs(g))) for g in (*numeric_w, *numeric_b))
    assert largest > 1e3 * FD_ATOL


def test_central_differences_discriminate_a_wrong_gradient() -> None:
    """The tolerance is tight enough to catch a small slip (δ off by 0.1 %) in one hidden layer."""
    arch = Architecture((3, 5, 4, 2), "tanh", "sigmoid", "l2")
    params, x, t = draw_case(arch, 4, case_seed("discriminate"))
    grads = engine.backward(arch, params, engine.forward(arch, params, x, t))
    numeric_w, _ = engine.numerical_gradients(arch, params, x, t, FD_EPSILON)
    wrong = grads.weight_gradient(1) * 1.001
    assert not np.allclose(wrong, numeric_w[1], rtol=FD_RTOL, atol=FD_ATOL)


# --------------------------------------------------------------------------------------------
# 2. The article's closed forms on 2-3-2, sigmoid, L2, by hand with loops
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandPass:
    """One sample through a sigmoid/L2 network with one hidden layer, computed with scalar loops."""

    h: list[float]
    y: list[float]
    loss: float
    #: ∂L/∂y_k = y_k − t_k.
    output_grad: list[float]
    #: δ_k = (y_k − t_k) y_k (1 − y_k).
    output_delta: list[float]
    #: ∂L/∂h_j = Σ_k δ_k u_jk.
    hidden_grad: list[float]
    #: δ_j = h_j (1 − h_j) Σ_k δ_k u_jk.
    hidden_delta: list[float]
    #: ∂L/∂w_ij = (Σ_k δ_k u_jk) h_j (1 − h_j) x_i.
    grad_w: list[list[float]]
    #: ∂L/∂u_ij = δ_j h_i.
    grad_u: list[list[float]]


def sigma(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def hand_pass(
    x: Sequence[float],
    t: Sequence[float],
    w: Sequence[Sequence[float]],
    b1: Sequence[float],
    u: Sequence[Sequence[float]],
    b2: Sequence[float],
) -> HandPass:
    n_in, n_hidden, n_out = len(x), len(b1), len(b2)
    h = [sigma(sum(x[i] * w[i][j] for i in range(n_in)) + b1[j]) for j in range(n_hidden)]
    y = [sigma(sum(h[j] * u[j][k] for j in range(n_hidden)) + b2[k]) for k in range(n_out)]
    loss = 0.5 * sum((y[k] - t[k]) ** 2 for k in range(n_out))
    output_grad = [y[k] - t[k] for k in range(n_out)]
    output_delta = [(y[k] - t[k]) * y[k] * (1.0 - y[k]) for k in range(n_out)]
    hidden_grad = [sum(output_delta[k] * u[j][k] for k in range(n_out)) for j in range(n_hidden)]
    hidden_delta = [h[j] * (1.0 - h[j]) * hidden_grad[j] for j in range(n_hidden)]
    grad_u = [[output_delta[j] * h[i] for j in range(n_out)] for i in range(n_hidden)]
    grad_w = [
        [
            sum(output_delta[k] * u[j][k] for k in range(n_out)) * h[j] * (1.0 - h[j]) * x[i]
            for j in range(n_hidden)
        ]
        for i in range(n_in)
    ]
    return HandPass(h, y, loss, output_grad, output_delta, hidden_grad, hidden_delta, grad_w, grad_u)


def mean_of(rows: Sequence[Sequence[float]] | Sequence[Sequence[Sequence[float]]]) -> Array:
    result: Array = np.mean(np.array(rows, dtype=np.float64), axis=0)
    return result


ARTICLE_ARCH = Architecture((2, 3, 2), "sigmoid", "sigmoid", "l2")


def assert_close_form(actual: Array | None, expected: npt.ArrayLike, what: str) -> None:
    assert actual is not None, what
    np.testing.assert_allclose(
        actual,
        np.asarray(expected, dtype=np.float64),
        rtol=CLOSED_FORM_RTOL,
        atol=CLOSED_FORM_ATOL,
        err_msg=what,
    )


@pytest.mark.parametrize("n_samples", [1, 3])
@pytest.mark.parametrize("seed", [0, 7, 2023])
def test_article_closed_forms_on_2_3_2(seed: int, n_samples: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2.0, 2.0, size=(2, 3)).tolist()
    b1 = rng.uniform(-1.0, 1.0, size=3).tolist()
    u = rng.uniform(-2.0, 2.0, size=(3, 2)).tolist()
    b2 = rng.uniform(-1.0, 1.0, size=2).tolist()
    xs = rng.uniform(-1.0, 1.0, size=(n_samples, 2)).tolist()
    ts = rng.uniform(0.0, 1.0, size=(n_samples, 2)).tolist()
    hand = [hand_pass(x, t, w, b1, u, b2) for x, t in zip(xs, ts, strict=True)]

    params = engine.make_parameters(ARTICLE_ARCH, [w, u], [b1, b2])
    fwd = engine.forward(ARTICLE_ARCH, params, np.array(xs), np.array(ts))
    grads = engine.backward(ARTICLE_ARCH, params, fwd)

    assert_close_form(fwd.activation(1), [p.h for p in hand], "h")
    assert_close_form(fwd.activation(2), [p.y for p in hand], "y")
    assert_close_form(fwd.sample_losses, [p.loss for p in hand], "L per sample")
    # δ and ∂L/∂h are per sample; layer 2 is the output (δ_k), layer 1 the hidden layer (δ_j).
    assert_close_form(grads.delta(2), [p.output_delta for p in hand], "output δ = (y − t) y (1 − y)")
    assert_close_form(
        grads.delta(1), [p.hidden_delta for p in hand], "hidden δ_j = h_j(1 − h_j) Σ_k δ_k u_jk"
    )
    assert_close_form(grads.activation_gradient(2), [p.output_grad for p in hand], "∂L/∂y = y − t")
    assert_close_form(grads.activation_gradient(1), [p.hidden_grad for p in hand], "∂L/∂h_j = Σ_k δ_k u_jk")
    # Parameter gradients are means over the batch.
    assert_close_form(grads.weight_gradient(1), mean_of([p.grad_u for p in hand]), "∂L/∂u_ij = δ_j h_i")
    assert_close_form(
        grads.weight_gradient(0),
        mean_of([p.grad_w for p in hand]),
        "∂L/∂w_ij = (Σ_k δ_k u_jk) h_j(1 − h_j) x_i",
    )
    assert_close_form(grads.bias_gradient(1), mean_of([p.output_delta for p in hand]), "∂L/∂b(2)_j = δ_j")
    assert_close_form(grads.bias_gradient(0), mean_of([p.hidden_delta for p in hand]), "∂L/∂b(1)_j = δ_j")

    # The article's worked case, spelled out: ∂L/∂w11 = (δ1 u11 + δ2 u12) h1 (1 − h1) x1.
    worked = [
        (p.output_delta[0] * u[0][0] + p.output_delta[1] * u[0][1]) * p.h[0] * (1.0 - p.h[0]) * x[0]
        for p, x in zip(hand, xs, strict=True)
    ]
    assert grads.weight_gradient(0)[0, 0] == pytest.approx(
        sum(worked) / n_samples, rel=CLOSED_FORM_RTOL, abs=CLOSED_FORM_ATOL
    )


# --------------------------------------------------------------------------------------------
# 3. Matt Mazur, "A Step by Step Backpropagation Example" (2015): published numbers
# --------------------------------------------------------------------------------------------

MAZUR_ARCH = Architecture((2, 2, 2), "sigmoid", "sigmoid", "l2")
# weights[l][i][j] joins unit i to unit j, so the post's w1..w8 sit as
# weights[0] = [[w1, w3], [w2, w4]] and weights[1] = [[w5, w7], [w6, w8]].
MAZUR_WEIGHTS = [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]]
MAZUR_BIASES = [[0.35, 0.35], [0.60, 0.60]]
MAZUR_INPUT = np.array([0.05, 0.10])
MAZUR_TARGET = np.array([0.01, 0.99])
MAZUR_LEARNING_RATE = 0.5


def published_tolerance(published: str) -> float:
    """Half a unit in the last published decimal: the post rounds to that many places."""
    return 0.5 * 10.0 ** -len(published.split(".")[1])


@dataclass(frozen=True)
class MazurStep:
    params: Parameters
    fwd: ForwardTrace
    grads: BackwardTrace
    updated: Parameters


@pytest.fixture(scope="module")
def mazur_step() -> MazurStep:
    params = engine.make_parameters(MAZUR_ARCH, MAZUR_WEIGHTS, MAZUR_BIASES)
    fwd = engine.forward(MAZUR_ARCH, params, MAZUR_INPUT, MAZUR_TARGET)
    grads = engine.backward(MAZUR_ARCH, params, fwd)
    updated = engine.update(params, grads, MAZUR_LEARNING_RATE, train_biases=False)
    return MazurStep(params, fwd, grads, updated)


MAZUR_PUBLISHED: list[tuple[str, Callable[[MazurStep], float], str]] = [
    ("out_h1", lambda s: float(s.fwd.activation(1)[0, 0]), "0.593269992"),
    ("out_h2", lambda s: float(s.fwd.activation(1)[0, 1]), "0.596884378"),
    ("out_o1", lambda s: float(s.fwd.activation(2)[0, 0]), "0.75136507"),
    ("out_o2", lambda s: float(s.fwd.activation(2)[0, 1]), "0.772928465"),
    ("E_total", lambda s: engine.mean_loss(MAZUR_ARCH, s.params, MAZUR_INPUT, MAZUR_TARGET), "0.298371109"),
    ("E_total (trace)", lambda s: s.fwd.loss if s.fwd.loss is not None else math.nan, "0.298371109"),
    ("dE/dw5", lambda s: float(s.grads.weight_gradient(1)[0, 0]), "0.082167041"),
    ("w5+", lambda s: float(s.updated.weights[1][0, 0]), "0.35891648"),
    ("w6+", lambda s: float(s.updated.weights[1][1, 0]), "0.408666186"),
    ("w7+", lambda s: float(s.updated.weights[1][0, 1]), "0.511301270"),
    ("w8+", lambda s: float(s.updated.weights[1][1, 1]), "0.561370121"),
    ("dE/dw1", lambda s: float(s.grads.weight_gradient(0)[0, 0]), "0.000438568"),
    ("w1+", lambda s: float(s.updated.weights[0][0, 0]), "0.149780716"),
    ("w2+", lambda s: float(s.updated.weights[0][1, 0]), "0.19956143"),
    ("w3+", lambda s: float(s.updated.weights[0][0, 1]), "0.24975114"),
    ("w4+", lambda s: float(s.updated.weights[0][1, 1]), "0.29950229"),
]


@pytest.mark.parametrize(
    ("name", "quantity", "published"), MAZUR_PUBLISHED, ids=[p[0] for p in MAZUR_PUBLISHED]
)
def test_mazur_published_numbers(
    mazur_step: MazurStep, name: str, quantity: Callable[[MazurStep], float], published: str
) -> None:
    assert abs(quantity(mazur_step) - float(published)) <= published_tolerance(published), name


def test_mazur_biases_are_not_updated(mazur_step: MazurStep) -> None:
    assert [b.tolist() for b in mazur_step.updated.biases] == MAZUR_BIASES


def mazur_hand_update(stale_output_weights: bool) -> tuple[list[list[float]], list[list[float]]]:
    """One hand-computed update of the post's network: (new w, new u).

    With ``stale_output_weights`` the hidden δ is computed from the *already updated* output weights,
    the mistake MATH.md warns against ("all gradients are computed first").
    """
    w, u = MAZUR_WEIGHTS
    b1, b2 = MAZUR_BIASES
    x, t = MAZUR_INPUT.tolist(), MAZUR_TARGET.tolist()
    p = hand_pass(x, t, w, b1, u, b2)
    new_u = [[u[i][j] - MAZUR_LEARNING_RATE * p.grad_u[i][j] for j in range(2)] for i in range(2)]
    seen_u = new_u if stale_output_weights else u
    hidden_delta = [
        p.h[j] * (1.0 - p.h[j]) * sum(p.output_delta[k] * seen_u[j][k] for k in range(2)) for j in range(2)
    ]
    new_w = [[w[i][j] - MAZUR_LEARNING_RATE * hidden_delta[j] * x[i] for j in range(2)] for i in range(2)]
    return new_w, new_u


#: The post's error after the first update, 0.291027924, is 1.50e-7 above the error its own published
#: new weights give (0.2910277737, below): it matches, to all nine digits, the network whose hidden δ
#: used the already-updated w5..w8 (see the next test), although the post's own w1..w4 use the
#: original ones. 2e-7 covers that known slip of the post and nothing larger.
MAZUR_FIRST_UPDATE_TOLERANCE = 2e-7


def test_mazur_error_after_first_update(mazur_step: MazurStep) -> None:
    error = engine.mean_loss(MAZUR_ARCH, mazur_step.updated, MAZUR_INPUT, MAZUR_TARGET)
    assert abs(error - 0.291027924) <= MAZUR_FIRST_UPDATE_TOLERANCE

    # The engine's value against an independent computation: hand update, hand forward pass.
    new_w, new_u = mazur_hand_update(stale_output_weights=False)
    expected = hand_pass(
        MAZUR_INPUT.tolist(), MAZUR_TARGET.tolist(), new_w, MAZUR_BIASES[0], new_u, MAZUR_BIASES[1]
    )
    assert error == pytest.approx(expected.loss, rel=CLOSED_FORM_RTOL)
    assert error == pytest.approx(0.2910277737, abs=0.5e-10)


def test_mazur_first_update_error_as_published_came_from_stale_output_weights() -> None:
    new_w, new_u = mazur_hand_update(stale_output_weights=True)
    params = engine.make_parameters(MAZUR_ARCH, [new_w, new_u], MAZUR_BIASES)
    error = engine.mean_loss(MAZUR_ARCH, params, MAZUR_INPUT, MAZUR_TARGET)
    assert abs(error - 0.291027924) <= published_tolerance("0.291027924")


#: 10,000 steps of the same contractive iteration in two implementations that differ only in
#: summation order drift apart by far less than 1e-9 relative.
LONG_RUN_RTOL = 1e-9


def test_mazur_ten_thousand_iterations() -> None:
    params = engine.make_parameters(MAZUR_ARCH, MAZUR_WEIGHTS, MAZUR_BIASES)
    losses = []
    for _ in range(10_000):
        params, loss = engine.train_step(
            MAZUR_ARCH, params, MAZUR_INPUT, MAZUR_TARGET, MAZUR_LEARNING_RATE, train_biases=False
        )
        losses.append(loss)
    after = engine.mean_loss(MAZUR_ARCH, params, MAZUR_INPUT, MAZUR_TARGET)

    # The post's "after repeating this process 10,000 times ... 0.0000351085" matches the error the
    # 10,000th iteration starts from (after 9,999 updates), i.e. the loss train_step reports for its
    # 10,000th call, to the published 10 decimals. After the 10,000th update the error is 3.5101878e-5.
    assert abs(losses[-1] - 0.0000351085) <= published_tolerance("0.0000351085")
    assert losses[0] == pytest.approx(0.298371109, abs=published_tolerance("0.298371109"))

    # An independent run: the closed forms of MATH.md as plain numpy, no engine code.
    w, u = np.array(MAZUR_WEIGHTS[0]), np.array(MAZUR_WEIGHTS[1])
    b1, b2 = np.array(MAZUR_BIASES[0]), np.array(MAZUR_BIASES[1])
    x, t = MAZUR_INPUT, MAZUR_TARGET
    for _ in range(10_000):
        h = reference_sigmoid(x @ w + b1)
        y = reference_sigmoid(h @ u + b2)
        delta_out = (y - t) * y * (1.0 - y)
        delta_hidden = (u @ delta_out) * h * (1.0 - h)
        u = u - MAZUR_LEARNING_RATE * np.outer(h, delta_out)
        w = w - MAZUR_LEARNING_RATE * np.outer(x, delta_hidden)
    y = reference_sigmoid(reference_sigmoid(x @ w + b1) @ u + b2)
    expected_after = 0.5 * float(np.sum((y - t) ** 2))
    assert after == pytest.approx(expected_after, rel=LONG_RUN_RTOL)
    assert after == pytest.approx(3.5101878e-5, abs=0.5e-12)
    np.testing.assert_allclose(params.weights[0], w, rtol=LONG_RUN_RTOL)
    np.testing.assert_allclose(params.weights[1], u, rtol=LONG_RUN_RTOL)


# --------------------------------------------------------------------------------------------
# 4. Numerical stability at the edges of the allowed range
# --------------------------------------------------------------------------------------------

LARGE = MAX_ABS_VALUE


def large_case(arch: Architecture, pattern: str, n_samples: int) -> CaseDraw:
    """Every parameter and input at ±1e6; targets ±1e6 for L2 and 0 or 1 for cross-entropy."""
    rng = np.random.default_rng(case_seed("large", arch, pattern))

    def signs(shape: tuple[int, ...]) -> Array:
        if pattern == "positive":
            return np.ones(shape)
        if pattern == "negative":
            return -np.ones(shape)
        result: Array = rng.choice([-1.0, 1.0], size=shape)
        return result

    weights = tuple(LARGE * signs((arch.layers[l], arch.layers[l + 1])) for l in range(arch.depth))
    biases = tuple(LARGE * signs((arch.layers[l + 1],)) for l in range(arch.depth))
    inputs = LARGE * signs((n_samples, arch.layers[0]))
    target_signs = signs((n_samples, arch.layers[-1]))
    targets = (target_signs > 0).astype(np.float64) if arch.loss == "bce" else LARGE * target_signs
    return Parameters(weights, biases), inputs, targets


def all_finite(arrays: Sequence[Array | None]) -> bool:
    return all(a is not None and bool(np.all(np.isfinite(a))) for a in arrays)


@pytest.mark.parametrize("pattern", ["positive", "negative", "mixed"])
@pytest.mark.parametrize("layers", [(2, 3, 2), (8, 8, 8, 8, 8, 8)], ids=shape_id)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_extreme_magnitudes_stay_finite_and_silent(
    hidden: str, output: str, loss: str, layers: tuple[int, ...], pattern: str
) -> None:
    arch = Architecture(layers, hidden, output, loss)
    params, x, t = large_case(arch, pattern, n_samples=3)
    # The values are accepted as they are: ±1e6 is inside the allowed range.
    engine.make_parameters(arch, [w.tolist() for w in params.weights], [b.tolist() for b in params.biases])
    with floats_strict():
        fwd = engine.forward(arch, params, x, t)
        grads = engine.backward(arch, params, fwd)
        prediction = engine.predict(arch, params, x)
    assert all_finite(fwd.pre_activations)
    assert all_finite(fwd.activations)
    assert fwd.sample_losses is not None
    assert all_finite([fwd.sample_losses])
    assert all_finite(grads.deltas)
    assert all_finite(grads.activation_gradients)
    assert all_finite(grads.weight_gradients)
    assert all_finite(grads.bias_gradients)
    assert all_finite([prediction])


def test_sigmoid_saturates_exactly_without_warnings() -> None:
    sigmoid = engine.ACTIVATIONS["sigmoid"]
    a = np.array([LARGE, -LARGE, 800.0, -800.0])
    with floats_strict():
        h = sigmoid.function(a)
        derivative = sigmoid.derivative(a, h)
    # σ(800) is 1 − e^−800, which rounds to 1.0; σ(−800) = e^−800 is below the smallest subnormal.
    assert h.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert derivative.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_sigmoid_saturates_exactly_inside_a_network() -> None:
    """The same through the public path: a (1, 1) sigmoid unit with w = 1, b = 0, x = a."""
    arch = Architecture((1, 1), "sigmoid", "sigmoid", "l2")
    params = engine.make_parameters(arch, [[[1.0]]], [[0.0]])
    a = np.array([[LARGE], [-LARGE], [800.0], [-800.0]])
    with floats_strict():
        fwd = engine.forward(arch, params, a, np.full((4, 1), 0.5))
        grads = engine.backward(arch, params, fwd)
        prediction = engine.predict(arch, params, a)
    assert fwd.activation(1).ravel().tolist() == [1.0, 0.0, 1.0, 0.0]
    assert prediction.ravel().tolist() == [1.0, 0.0, 1.0, 0.0]
    assert fwd.sample_losses is not None
    assert fwd.sample_losses.tolist() == [0.125] * 4  # ½ (±0.5)²
    assert grads.delta(1).ravel().tolist() == [0.0] * 4  # (y − t) · y (1 − y) with y (1 − y) = 0


@pytest.mark.parametrize(
    ("logit", "target", "expected_loss"),
    [
        # max(a, 0) − a t + ln(1 + e^−|a|) with e^−800 = 0.0 exactly: the naive −ln(1 − σ(a)) is ln 0.
        (800.0, 0.0, 800.0),
        (800.0, 1.0, 0.0),
        (-800.0, 1.0, 800.0),
        (-800.0, 0.0, 0.0),
        (LARGE, 0.0, LARGE),
        (-LARGE, 1.0, LARGE),
        (LARGE, 1.0, 0.0),
    ],
)
def test_cross_entropy_is_finite_and_exact_when_the_output_saturates(
    logit: float, target: float, expected_loss: float
) -> None:
    arch = Architecture((1, 1), "sigmoid", "sigmoid", "bce")
    params = engine.make_parameters(arch, [[[1.0]]], [[0.0]])
    with floats_strict():
        fwd = engine.forward(arch, params, np.array([logit]), np.array([target]))
        grads = engine.backward(arch, params, fwd)
    assert fwd.loss == expected_loss
    y = fwd.activation(1)[0, 0]
    assert y == (1.0 if logit > 0 else 0.0)
    # δ = y − t with no division by y(1 − y) = 0.
    assert grads.delta(1)[0, 0] == y - target
    assert grads.weight_gradient(0)[0, 0] == (y - target) * logit
    assert all_finite(grads.activation_gradients)


def divergence_case() -> tuple[Architecture, Parameters, BackwardTrace]:
    """(1, 1), linear, L2: w = 1e5, x = 10, t = −1e6, so y = 1e6, δ = 2e6, ∂L/∂w = 2e7, ∂L/∂b = 2e6."""
    arch = Architecture((1, 1), "linear", "linear", "l2")
    params = engine.make_parameters(arch, [[[1e5]]], [[0.0]])
    grads = engine.backward(arch, params, engine.forward(arch, params, np.array([10.0]), np.array([-LARGE])))
    assert grads.weight_gradient(0)[0, 0] == 2e7
    return arch, params, grads


@pytest.mark.parametrize(
    ("learning_rate", "train_biases"),
    [
        (1.0, True),  # w → 1e5 − 2e7: finite but beyond ±1e6
        (1.0, False),  # the weight alone diverges
    ],
)
def test_update_beyond_the_range_raises_divergence_and_changes_nothing(
    learning_rate: float, train_biases: bool
) -> None:
    _, params, grads = divergence_case()
    before = snapshot(params)
    with floats_strict(), pytest.raises(DivergenceError, match="diverged"):
        engine.update(params, grads, learning_rate, train_biases)
    assert snapshot(params) == before


@pytest.mark.parametrize("learning_rate", [1e305, 100.5, 0.0, -1.0, float("nan")])
def test_update_refuses_a_learning_rate_outside_the_range(learning_rate: float) -> None:
    """η ∈ (0, 100]; beyond it (1e305 would overflow η ∂L/∂w itself) the update is refused."""
    _, params, grads = divergence_case()
    before = snapshot(params)
    with floats_strict(), pytest.raises(InvalidInputError, match="learning_rate"):
        engine.update(params, grads, learning_rate)
    assert snapshot(params) == before


def test_update_from_gradients_at_the_edge_of_the_range_raises_divergence() -> None:
    """6 layers of 8, linear, every parameter and input +1e6: gradients near 1e74, still finite."""
    arch = Architecture((8, 8, 8, 8, 8, 8), "linear", "linear", "l2")
    params, x, t = large_case(arch, "positive", n_samples=2)
    before = snapshot(params)
    with floats_strict():
        grads = engine.backward(arch, params, engine.forward(arch, params, x, t))
        assert all_finite(grads.weight_gradients)
        assert float(np.max(np.abs(grads.weight_gradient(0)))) > 1e70
        with pytest.raises(DivergenceError, match=r"weights\[0\].*diverged"):
            engine.update(params, grads, 1.0)
    assert snapshot(params) == before


def test_update_inside_the_range_is_accepted() -> None:
    """The same gradients with η = 1e-3: w → 1e5 − 2e4 and b → −2e3, both well inside ±1e6."""
    _, params, grads = divergence_case()
    with floats_strict():
        updated = engine.update(params, grads, 1e-3)
    assert updated.weights[0].tolist() == [[1e5 - 1e-3 * 2e7]]
    assert updated.biases[0].tolist() == [0.0 - 1e-3 * 2e6]


def test_update_of_a_bias_beyond_the_range_raises_divergence() -> None:
    """x = 0, w = 0, b = 9e5, t = −1e6: ∂L/∂w = 0, ∂L/∂b = 1.9e6; η = 2 drives b to −2.9e6."""
    arch = Architecture((1, 1), "linear", "linear", "l2")
    params = engine.make_parameters(arch, [[[0.0]]], [[9e5]])
    grads = engine.backward(arch, params, engine.forward(arch, params, np.array([0.0]), np.array([-LARGE])))
    before = snapshot(params)
    with floats_strict(), pytest.raises(DivergenceError, match=r"biases\[0\]"):
        engine.update(params, grads, 2.0, train_biases=True)
    assert snapshot(params) == before
    # Without bias training the same step is harmless: the weight gradient is 0.
    unchanged = engine.update(params, grads, 2.0, train_biases=False)
    assert snapshot(unchanged) == before
    # Landing exactly on the boundary is allowed: 9e5 − 1 · 1.9e6 = −1e6.
    boundary = engine.update(params, grads, 1.0, train_biases=True)
    assert boundary.biases[0].tolist() == [-LARGE]


# --------------------------------------------------------------------------------------------
# 5. Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": (2,)}, r"^layers: .*2 to 6 layers.*got 1"),
        ({"layers": ()}, r"^layers: .*got 0"),
        ({"layers": (2, 3, 3, 3, 3, 3, 2)}, r"^layers: .*got 7"),
        ({"layers": (2, 0, 2)}, r"^layers\[1\]: .*1 to 8 units, got 0"),
        ({"layers": (9, 3, 2)}, r"^layers\[0\]: .*got 9"),
        ({"layers": (2, 3, 9)}, r"^layers\[2\]: .*got 9"),
        ({"activation": "softmax"}, r"^activation: unknown activation 'softmax'"),
        ({"activation": "Sigmoid"}, r"^activation: unknown activation 'Sigmoid'"),
        ({"output_activation": "softplus"}, r"^output_activation: unknown activation 'softplus'"),
        ({"loss": "mse"}, r"^loss: unknown loss 'mse'"),
        ({"loss": "bce", "output_activation": "tanh"}, r"^loss: 'bce' needs output_activation 'sigmoid'"),
        ({"loss": "bce", "output_activation": "relu"}, r"^loss: 'bce' needs output_activation 'sigmoid'"),
        ({"loss": "bce", "output_activation": "linear"}, r"^loss: 'bce' needs output_activation 'sigmoid'"),
    ],
)
def test_architecture_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Architecture(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "layers", [(1, 1), (8, 8), (2, 3, 3, 3, 3, 2), (8, 8, 8, 8, 8, 8), (1, 8, 1)], ids=shape_id
)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_architecture_accepts_the_limits(
    hidden: str, output: str, loss: str, layers: tuple[int, ...]
) -> None:
    arch = Architecture(layers, hidden, output, loss)
    assert arch.depth == len(layers) - 1
    assert arch.activation_of(arch.depth).name == output
    assert all(arch.activation_of(layer).name == hidden for layer in range(1, arch.depth))


GOOD_W = [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]]
GOOD_B = [[0.1, 0.2, 0.3], [0.4, 0.5]]
NEXT_ABOVE_LIMIT = float(np.nextafter(LARGE, np.inf))


def weights_with(l: int, i: int, j: int, value: float) -> list[list[list[float]]]:
    """GOOD_W with weights[l][i][j] replaced."""
    weights = copy.deepcopy(GOOD_W)
    weights[l][i][j] = value
    return weights


def biases_with(l: int, j: int, value: float) -> list[list[float]]:
    """GOOD_B with biases[l][j] replaced."""
    biases = copy.deepcopy(GOOD_B)
    biases[l][j] = value
    return biases


@pytest.mark.parametrize(
    ("weights", "biases", "message"),
    [
        (GOOD_W[:1], GOOD_B, r"^weights: expected 2 matrices .*got 1"),
        (GOOD_W, [*GOOD_B, [0.0]], r"^biases: expected 2 vectors .*got 3"),
        ([GOOD_W[0][:1], GOOD_W[1]], GOOD_B, r"^weights\[0\]: expected a 2×3 matrix"),
        ([GOOD_W[0], [*GOOD_W[1], [0.7, 0.8]]], GOOD_B, r"^weights\[1\]: expected a 3×2 matrix"),
        ([GOOD_W[0], [[0.1, 0.2], [0.3], [0.5, 0.6]]], GOOD_B, r"^weights\[1\]: expected a 3×2 matrix"),
        ([[[0.1, 0.2], [0.4, 0.5]], GOOD_W[1]], GOOD_B, r"^weights\[0\]: expected a 2×3 matrix"),
        (GOOD_W, [GOOD_B[0], [0.4, 0.5, 0.6]], r"^biases\[1\]: expected 2 values, got 3"),
        (GOOD_W, [[0.1], GOOD_B[1]], r"^biases\[0\]: expected 3 values, got 1"),
        (weights_with(1, 2, 1, math.nan), GOOD_B, r"^weights\[1\]: .*finite"),
        (weights_with(0, 0, 0, math.inf), GOOD_B, r"^weights\[0\]: .*finite"),
        (weights_with(0, 1, 2, -math.inf), GOOD_B, r"^weights\[0\]: .*finite"),
        (GOOD_W, biases_with(0, 1, math.nan), r"^biases\[0\]: .*finite"),
        (GOOD_W, biases_with(1, 0, math.inf), r"^biases\[1\]: .*finite"),
        (weights_with(0, 1, 1, NEXT_ABOVE_LIMIT), GOOD_B, r"^weights\[0\]: .*within ±1e\+06"),
        (weights_with(1, 0, 0, -2e6), GOOD_B, r"^weights\[1\]: .*within ±1e\+06"),
        (GOOD_W, biases_with(1, 1, -NEXT_ABOVE_LIMIT), r"^biases\[1\]: .*within ±1e\+06"),
        (GOOD_W, biases_with(0, 2, 1e300), r"^biases\[0\]: .*within ±1e\+06"),
    ],
)
def test_make_parameters_refuses(
    weights: list[list[list[float]]], biases: list[list[float]], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        engine.make_parameters(ARTICLE_ARCH, weights, biases)


def test_make_parameters_accepts_the_limits_exactly() -> None:
    weights = weights_with(0, 0, 0, LARGE)
    weights[1][2][1] = -LARGE
    params = engine.make_parameters(ARTICLE_ARCH, weights, biases_with(1, 0, -LARGE))
    assert params.weights[0].tolist() == [[LARGE, 0.2, 0.3], [0.4, 0.5, 0.6]]
    assert params.weights[1].tolist() == [[0.1, 0.2], [0.3, 0.4], [0.5, -LARGE]]
    assert params.biases[1].tolist() == [-LARGE, 0.5]
    assert all(a.dtype == np.float64 for a in (*params.weights, *params.biases))
    assert [a.shape for a in params.weights] == [(2, 3), (3, 2)]
    assert [a.shape for a in params.biases] == [(3,), (2,)]


@pytest.mark.parametrize(
    ("inputs", "targets", "message"),
    [
        ([0.1, math.nan], [0.5, 0.5], r"^input: .*finite"),
        ([0.1, 0.2], [math.inf, 0.5], r"^target: .*finite"),
        ([0.1, 2e6], [0.5, 0.5], r"^input: .*within ±1e\+06"),
        ([0.1, 0.2, 0.3], [0.5, 0.5], r"^input: expected 2 values per sample"),
        ([0.1, 0.2], [0.5], r"^target: expected 2 values per sample"),
        ([[0.1, 0.2], [0.3, 0.4]], [0.5, 0.5], r"same number of samples"),
    ],
)
def test_forward_refuses_bad_samples(inputs: object, targets: object, message: str) -> None:
    params = engine.init_parameters(ARTICLE_ARCH, seed=0)
    with pytest.raises(InvalidInputError, match=message):
        engine.forward(ARTICLE_ARCH, params, np.array(inputs), np.array(targets))


# --------------------------------------------------------------------------------------------
# 6. init_parameters
# --------------------------------------------------------------------------------------------

INIT_SHAPES = [(2, 3, 2), (1, 1), (3, 5, 4, 2), (8, 8, 8, 8, 8, 8), (1, 8, 1)]
SEEDS = [0, 1, 42, 2**31 - 1, 2**40]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("layers", INIT_SHAPES, ids=shape_id)
def test_init_parameters(layers: tuple[int, ...], seed: int) -> None:
    arch = Architecture(layers)
    params = engine.init_parameters(arch, seed)
    again = engine.init_parameters(arch, seed)
    other = engine.init_parameters(arch, seed + 1)

    assert [w.shape for w in params.weights] == [(layers[l], layers[l + 1]) for l in range(arch.depth)]
    assert [b.shape for b in params.biases] == [(layers[l + 1],) for l in range(arch.depth)]
    assert snapshot(params) == snapshot(again)
    for l in range(arch.depth):
        assert not np.array_equal(params.weights[l], other.weights[l])
        assert not np.array_equal(params.biases[l], other.biases[l])
        bound = 1.0 / math.sqrt(layers[l])  # fan_in: the units feeding layer l+1
        for values in (params.weights[l], params.biases[l]):
            assert values.dtype == np.float64
            assert np.all(values >= -bound)
            assert np.all(values < bound)
    values = np.concatenate([a.ravel() for a in (*params.weights, *params.biases)])
    # Continuous draws: no two equal, so no symmetry between units to break.
    assert np.unique(values).size == values.size


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("layers", INIT_SHAPES, ids=shape_id)
def test_init_parameters_follows_the_documented_scheme(layers: tuple[int, ...], seed: int) -> None:
    """PCG64 seeded with ``seed``, layer by layer, weights (row-major) before biases: bit for bit."""
    arch = Architecture(layers)
    params = engine.init_parameters(arch, seed)
    rng = np.random.Generator(np.random.PCG64(seed))
    for l in range(arch.depth):
        bound = 1.0 / math.sqrt(layers[l])
        assert np.array_equal(params.weights[l], rng.uniform(-bound, bound, size=(layers[l], layers[l + 1])))
        assert np.array_equal(params.biases[l], rng.uniform(-bound, bound, size=layers[l + 1]))


def test_init_parameters_spreads_over_the_range() -> None:
    """64 draws from U(−b, b) span most of it (P(max < b/2) = 0.75⁶⁴ ≈ 1e-8): not a tiny scale."""
    arch = Architecture((8, 8, 8, 8, 8, 8))
    params = engine.init_parameters(arch, seed=3)
    bound = 1.0 / math.sqrt(8)
    for w in params.weights:
        assert float(np.max(w)) > 0.5 * bound
        assert float(np.min(w)) < -0.5 * bound


# --------------------------------------------------------------------------------------------
# 7. update and train_step
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("learning_rate", [0.5, 0.1, 3.0, 1e-3, 100.0])
@pytest.mark.parametrize("layers", [(2, 3, 2), (3, 5, 4, 2), (2, 8, 8, 8, 8, 1)], ids=shape_id)
def test_update_applies_the_learning_rate_to_every_layer(
    layers: tuple[int, ...], learning_rate: float
) -> None:
    arch = Architecture(layers, "tanh", "sigmoid", "l2")
    params, x, t = draw_case(arch, 4, case_seed("update", layers))
    before = snapshot(params)
    grads = engine.backward(arch, params, engine.forward(arch, params, x, t))
    updated = engine.update(params, grads, learning_rate)
    for l in range(arch.depth):
        # The same float operations as w − η g: bit-identical, so η is applied exactly.
        assert np.array_equal(
            updated.weights[l], params.weights[l] - learning_rate * grads.weight_gradient(l)
        )
        assert np.array_equal(updated.biases[l], params.biases[l] - learning_rate * grads.bias_gradient(l))
        assert not np.array_equal(updated.weights[l], params.weights[l])
    assert snapshot(params) == before


@pytest.mark.parametrize("layers", [(2, 3, 2), (3, 5, 4, 2), (2, 8, 8, 8, 8, 1)], ids=shape_id)
def test_update_without_bias_training_keeps_biases_bit_identical(layers: tuple[int, ...]) -> None:
    arch = Architecture(layers, "sigmoid", "sigmoid", "bce")
    params, x, t = draw_case(arch, 3, case_seed("frozen biases", layers))
    grads = engine.backward(arch, params, engine.forward(arch, params, x, t))
    updated = engine.update(params, grads, 0.7, train_biases=False)
    for l in range(arch.depth):
        assert updated.biases[l].tobytes() == params.biases[l].tobytes()
        assert np.array_equal(updated.weights[l], params.weights[l] - 0.7 * grads.weight_gradient(l))
        assert not np.array_equal(updated.weights[l], params.weights[l])


@pytest.mark.parametrize("train_biases", [True, False])
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_train_step_uses_gradients_from_before_any_change(
    hidden: str, output: str, loss: str, train_biases: bool
) -> None:
    """Every layer moves by −η ∂L/∂θ evaluated at the *old* parameters (central differences there)."""
    arch = Architecture((3, 5, 4, 2), hidden, output, loss)
    params, x, t = draw_case(arch, 4, case_seed("train step", hidden, output, loss))
    learning_rate = 0.3
    updated, loss_before = engine.train_step(arch, params, x, t, learning_rate, train_biases)

    assert loss_before == engine.mean_loss(arch, params, x, t)
    numeric_w, numeric_b = engine.numerical_gradients(arch, params, x, t, FD_EPSILON)
    for l in range(arch.depth):
        # (w − w⁺)/η recovers the gradient to within the FD tolerance (plus rounding of the step).
        np.testing.assert_allclose(
            (params.weights[l] - updated.weights[l]) / learning_rate, numeric_w[l], rtol=FD_RTOL, atol=FD_ATOL
        )
        if train_biases:
            np.testing.assert_allclose(
                (params.biases[l] - updated.biases[l]) / learning_rate,
                numeric_b[l],
                rtol=FD_RTOL,
                atol=FD_ATOL,
            )
        else:
            assert updated.biases[l].tobytes() == params.biases[l].tobytes()

    # And train_step is exactly forward + backward + update.
    grads = engine.backward(arch, params, engine.forward(arch, params, x, t))
    assert snapshot(updated) == snapshot(engine.update(params, grads, learning_rate, train_biases))


@pytest.mark.parametrize("train_biases", [True, False])
@pytest.mark.parametrize("n_samples", BATCH_SIZES)
def test_run_steps_is_repeated_train_steps_bit_for_bit(n_samples: int, train_biases: bool) -> None:
    """run_steps is the multi-step call of the engine: the same numbers as that many train_step
    calls, the loss before each update included (single samples keep their plain floats between
    the steps, batches go through numpy: both must agree with the step-by-step path)."""
    arch = Architecture((3, 5, 4, 2), "tanh", "sigmoid", "bce")
    params, x, t = draw_case(arch, n_samples, case_seed("run_steps", n_samples, train_biases))
    trained, losses = engine.run_steps(arch, params, x, t, 0.3, 25, train_biases)
    stepped, expected = params, []
    for _ in range(25):
        stepped, loss = engine.train_step(arch, stepped, x, t, 0.3, train_biases)
        expected.append(loss)
    assert losses == expected
    assert snapshot(trained) == snapshot(stepped)
    assert snapshot(params) != snapshot(trained)


@pytest.mark.parametrize("n_samples", BATCH_SIZES)
def test_run_steps_refuses_to_diverge(n_samples: int) -> None:
    arch = Architecture((1, 1), "linear", "linear")
    params = engine.make_parameters(arch, [[[1000.0]]], [[0.0]])
    x, t = np.full((n_samples, 1), 1000.0), np.zeros((n_samples, 1))
    with pytest.raises(DivergenceError, match="diverged"):
        engine.run_steps(arch, params, x, t, 100.0, 3)


def test_update_refuses_an_unfinished_backward_pass() -> None:
    params = engine.init_parameters(ARTICLE_ARCH, seed=0)
    fwd = engine.forward(ARTICLE_ARCH, params, np.array([0.1, 0.2]), np.array([0.3, 0.4]))
    half = engine.backward_layer(ARTICLE_ARCH, params, fwd, engine.start_backward(ARTICLE_ARCH))
    with pytest.raises(PhaseError, match="finish the backward pass"):
        engine.update(params, half, 0.5)


# --------------------------------------------------------------------------------------------
# 8. Sub-steps fold to the coarse steps, bit for bit
# --------------------------------------------------------------------------------------------


def assert_same_arrays(stepped: Sequence[Array | None], whole: Sequence[Array | None], what: str) -> None:
    assert len(stepped) == len(whole), what
    for index, (a, b) in enumerate(zip(stepped, whole, strict=True)):
        assert a is not None, f"{what}[{index}]"
        assert b is not None, f"{what}[{index}]"
        assert a.shape == b.shape, f"{what}[{index}]"
        assert np.array_equal(a, b), f"{what}[{index}]"


@pytest.mark.parametrize("n_samples", BATCH_SIZES)
@pytest.mark.parametrize("layers", [(2, 3, 2), (1, 1), (2, 8, 8, 8, 8, 1)], ids=shape_id)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_sub_steps_equal_the_coarse_steps(
    hidden: str, output: str, loss: str, layers: tuple[int, ...], n_samples: int
) -> None:
    arch = Architecture(layers, hidden, output, loss)
    params, x, t = draw_case(arch, n_samples, case_seed("steps", layers, hidden, output, loss, n_samples))

    trace = engine.start_forward(arch, x, t)
    assert trace.layers_done == 0
    assert not trace.complete
    for step in range(arch.depth):
        trace = engine.forward_layer(arch, params, trace)
        assert trace.layers_done == step + 1
        assert trace.activations[step + 1] is not None
        assert all(a is None for a in trace.activations[step + 2 :])
    assert not trace.complete
    trace = engine.compute_loss(arch, trace)
    assert trace.complete

    whole = engine.forward(arch, params, x, t)
    assert np.array_equal(trace.targets, whole.targets)
    assert_same_arrays(trace.pre_activations, whole.pre_activations, "pre_activations")
    assert_same_arrays(trace.activations, whole.activations, "activations")
    assert_same_arrays([trace.sample_losses], [whole.sample_losses], "sample_losses")
    assert trace.loss == whole.loss

    back = engine.start_backward(arch)
    assert back.layers_done == 0
    for step in range(arch.depth):
        back = engine.backward_layer(arch, params, trace, back)
        # The backward pass fills δ from the output layer towards the input.
        filled = [d is not None for d in back.deltas]
        assert filled == [index >= arch.depth - 1 - step for index in range(arch.depth)]
    assert back.complete

    whole_back = engine.backward(arch, params, whole)
    assert_same_arrays(back.deltas, whole_back.deltas, "deltas")
    assert_same_arrays(back.activation_gradients, whole_back.activation_gradients, "activation_gradients")
    assert_same_arrays(back.weight_gradients, whole_back.weight_gradients, "weight_gradients")
    assert_same_arrays(back.bias_gradients, whole_back.bias_gradients, "bias_gradients")


def test_sub_steps_refuse_to_run_out_of_order() -> None:
    arch = Architecture((2, 3, 3, 2))
    params = engine.init_parameters(arch, seed=5)
    x, t = np.array([0.1, -0.2]), np.array([0.3, 0.7])
    start = engine.start_forward(arch, x, t)
    with pytest.raises(PhaseError, match="finish the forward pass"):
        engine.compute_loss(arch, engine.forward_layer(arch, params, start))
    with pytest.raises(PhaseError, match="has not reached layer 2"):
        engine.forward_layer(arch, params, start).activation(2)
    with pytest.raises(PhaseError, match="complete forward pass"):
        engine.backward_layer(arch, params, start, engine.start_backward(arch))

    done = start
    for _ in range(arch.depth):
        done = engine.forward_layer(arch, params, done)
    with pytest.raises(PhaseError, match="already reached the output layer"):
        engine.forward_layer(arch, params, done)
    fwd = engine.compute_loss(arch, done)
    back = engine.backward_layer(arch, params, fwd, engine.start_backward(arch))
    with pytest.raises(PhaseError, match="δ of layer 2 has not been computed"):
        back.delta(2)
    with pytest.raises(PhaseError, match="weight layer 0"):
        back.weight_gradient(0)
    full = engine.backward(arch, params, fwd)
    with pytest.raises(PhaseError, match="already reached the first layer"):
        engine.backward_layer(arch, params, fwd, full)


# --------------------------------------------------------------------------------------------
# 9. predict
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_samples", [1, 7])
@pytest.mark.parametrize("layers", [(2, 3, 2), (1, 1), (3, 5, 4, 2), (2, 8, 8, 8, 8, 1)], ids=shape_id)
@pytest.mark.parametrize(("hidden", "output", "loss"), architectures(), ids=ARCH_IDS)
def test_predict_equals_the_forward_output(
    hidden: str, output: str, loss: str, layers: tuple[int, ...], n_samples: int
) -> None:
    arch = Architecture(layers, hidden, output, loss)
    params, x, t = draw_case(arch, n_samples, case_seed("predict", layers, hidden, output, loss, n_samples))
    prediction = engine.predict(arch, params, x)
    output_values = engine.forward(arch, params, x, t).activation(arch.depth)
    assert prediction.shape == (n_samples, layers[-1])
    assert np.array_equal(prediction, output_values)
