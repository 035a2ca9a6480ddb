"""Activations and losses: registries of (function, derivative) pairs, as in TensorFlow Playground.

Each comes in two forms, numpy arrays for batches and plain floats for the single-sample kernels
(:mod:`app.engine.scalar`); both compute the same numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.engine.arrays import Array

# --------------------------------------------------------------------------------------------
# Activations: a registry of (function, derivative) pairs, as in TensorFlow Playground.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An activation function f and its derivative f'."""

    name: str
    #: f(a), elementwise.
    function: Callable[[Array], Array]
    #: f'(a) given both a and h = f(a) (sigmoid and tanh are cheapest from h).
    derivative: Callable[[Array, Array], Array]
    #: The derivative written in terms of the unit's own value, for derivations ("h(1 − h)").
    derivative_formula: str
    #: f and f' of one number: the single-sample kernels use these (see "Kernels" below).
    scalar: Callable[[float], float]
    scalar_derivative: Callable[[float, float], float]


def _sigmoid_scalar(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)  # a < 0: e^a cannot overflow
    return e / (1.0 + e)


def _sigmoid(a: Array) -> Array:
    # σ(a) = exp(a − ln(1 + e^a)): logaddexp never overflows and a − ln(1 + e^a) ≤ 0, so neither
    # can exp; σ(±1e6) is exactly 1 or 0 without a warning. Relative error about 1e-15 (1e-14 near
    # |a| = 40), in three numpy calls: this runs for every layer of every training step.
    result: Array = np.exp(a - np.logaddexp(0.0, a))
    return result


def _relu(a: Array) -> Array:
    result: Array = np.maximum(a, 0.0)
    return result


def _relu_derivative(a: Array, h: Array) -> Array:
    return (a > 0).astype(np.float64)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid",
        _sigmoid,
        lambda a, h: h * (1.0 - h),
        "h(1 − h)",
        _sigmoid_scalar,
        lambda a, h: h * (1.0 - h),
    ),
    "tanh": Activation(
        "tanh", np.tanh, lambda a, h: 1.0 - h * h, "1 − h²", math.tanh, lambda a, h: 1.0 - h * h
    ),
    "relu": Activation(
        "relu",
        _relu,
        _relu_derivative,
        "1 if a > 0 else 0",
        lambda a: a if a > 0.0 else 0.0,
        lambda a, h: 1.0 if a > 0.0 else 0.0,
    ),
    "linear": Activation(
        "linear", lambda a: a.copy(), lambda a, h: np.ones_like(a), "1", lambda a: a, lambda a, h: 1.0
    ),
}


# --------------------------------------------------------------------------------------------
# Losses: per-sample value, ∂L/∂y, and the output δ = ∂L/∂a.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A per-sample loss L(y, t) summed over output units."""

    name: str
    #: L for each sample, from the output pre-activation a, the output y and the target t.
    value: Callable[[Array, Array, Array], Array]
    #: ∂L/∂y for each sample and output unit.
    output_gradient: Callable[[Array, Array], Array]
    #: L of one sample and ∂L/∂y of one output, for the single-sample kernels.
    scalar_value: Callable[[Sequence[float], Sequence[float], Sequence[float]], float]
    scalar_gradient: Callable[[float, float], float]
    #: The output activation this loss needs, if any (cross-entropy needs sigmoid outputs).
    requires_output: str | None = None


def _l2_scalar(a: Sequence[float], y: Sequence[float], t: Sequence[float]) -> float:
    total = 0.0
    for yj, tj in zip(y, t, strict=True):
        d = yj - tj
        total += d * d
    return 0.5 * total


def _bce_scalar(a: Sequence[float], y: Sequence[float], t: Sequence[float]) -> float:
    total = 0.0
    for aj, tj in zip(a, t, strict=True):
        total += max(aj, 0.0) - aj * tj + math.log1p(math.exp(-abs(aj)))
    return total


def _bce_gradient_scalar(y: float, t: float) -> float:
    product = y * (1.0 - y)
    if product == 0.0:  # saturated: the true value is infinite (see _bce_output_gradient)
        return 0.0 if y == t else math.copysign(1e300, y - t)
    return max(-1e300, min(1e300, (y - t) / product))


def _l2_value(a: Array, y: Array, t: Array) -> Array:
    d = y - t
    result: Array = 0.5 * np.add.reduce(d * d, axis=-1)
    return result


def _bce_value(a: Array, y: Array, t: Array) -> Array:
    # From the logit a rather than from y = σ(a): −[t ln σ(a) + (1−t) ln(1−σ(a))]
    # = max(a, 0) − a t + ln(1 + e^−|a|), finite for every finite a.
    result: Array = np.sum(np.maximum(a, 0.0) - a * t + np.log1p(np.exp(-np.abs(a))), axis=-1)
    return result


def _bce_output_gradient(y: Array, t: Array) -> Array:
    # (y − t) / (y(1 − y)), shown in derivations only: the δ never divides (it is y − t). Where
    # y saturates to exactly 0 or 1 the true value is infinite; it is capped at ±1e300 so that it
    # stays a JSON number.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        ratio = (y - t) / (y * (1.0 - y))
    return np.nan_to_num(ratio, nan=0.0, posinf=1e300, neginf=-1e300)


LOSSES: dict[str, Loss] = {
    "l2": Loss("l2", _l2_value, lambda y, t: y - t, _l2_scalar, lambda y, t: y - t),
    "bce": Loss(
        "bce", _bce_value, _bce_output_gradient, _bce_scalar, _bce_gradient_scalar, requires_output="sigmoid"
    ),
}
