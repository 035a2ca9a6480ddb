"""The gradient check: every gradient by backprop beside its central finite-difference estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app import engine
from app.engine import Array
from app.errors import InvalidInputError
from app.limits import MAX_EPSILON
from app.notation import bias_symbol, weight_symbol
from app.quantity import Kind
from app.session import Session

#: The step of the central differences in :func:`gradient_check` (see there why).
DEFAULT_EPSILON = 1e-6


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
