"""The backpropagation engine: a fully connected network in pure numpy.

Notation and index conventions follow MATH.md (the article's): ``weights[l][i][j]`` joins unit i of
layer l to unit j of layer l+1; ``pre_activations[l]`` (a), ``deltas[l]`` (δ = ∂L/∂a) and
``biases[l]`` belong to layer l+1; ``activations[0]`` is the input x and ``activations[-1]`` the
output y. Every array that depends on a sample has the samples along axis 0, so a single sample is
a batch of one and a dataset is a batch of many.

The coarse functions (:func:`forward`, :func:`backward`) are folds over the fine ones
(:func:`forward_layer`, :func:`compute_loss`, :func:`backward_layer`), so stepping one layer at a
time gives bit-for-bit the same numbers as one coarse step; :func:`train_step` and :func:`train`
run the same kernels without keeping traces. A single sample is computed with plain floats in a
fixed order, a batch with numpy (see "Kernels").

This module imports numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from app.errors import DivergenceError, InvalidInputError, PhaseError
from app.limits import LEARNING_RATE, MAX_ABS_VALUE, MAX_LAYERS, MAX_UNITS, MIN_LAYERS, MIN_UNITS

Array = NDArray[np.float64]

# No float64 overflow can happen in this engine, so it needs no np.errstate: inputs, targets and
# parameters are kept within ±MAX_ABS_VALUE, so with at most MAX_UNITS units and MAX_LAYERS layers
# every a, h, loss and gradient stays below about 1e130, far inside float64; the sigmoid and the
# cross-entropy are written so that they never overflow; and an update that would leave the box
# raises DivergenceError.


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


# --------------------------------------------------------------------------------------------
# Architecture and parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """The shape of a network and the functions it uses."""

    #: Units per layer, input first: ``(2, 3, 2)`` is the article's network.
    layers: tuple[int, ...] = (2, 3, 2)
    #: Activation of every hidden layer.
    activation: str = "sigmoid"
    #: Activation of the output layer.
    output_activation: str = "sigmoid"
    #: Loss name, a key of :data:`LOSSES`.
    loss: str = "l2"

    def __post_init__(self) -> None:
        if not MIN_LAYERS <= len(self.layers) <= MAX_LAYERS:
            raise InvalidInputError(
                f"layers: a network has {MIN_LAYERS} to {MAX_LAYERS} layers "
                f"(input and output included), got {len(self.layers)}"
            )
        for index, units in enumerate(self.layers):
            if not MIN_UNITS <= units <= MAX_UNITS:
                raise InvalidInputError(
                    f"layers[{index}]: a layer has {MIN_UNITS} to {MAX_UNITS} units, got {units}"
                )
        for field, name in (("activation", self.activation), ("output_activation", self.output_activation)):
            if name not in ACTIVATIONS:
                raise InvalidInputError(
                    f"{field}: unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
                )
        if self.loss not in LOSSES:
            raise InvalidInputError(f"loss: unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        required = LOSSES[self.loss].requires_output
        if required is not None and self.output_activation != required:
            raise InvalidInputError(
                f"loss: {self.loss!r} needs output_activation {required!r}, got {self.output_activation!r}"
            )

    @property
    def depth(self) -> int:
        """Number of weight layers (L): one fewer than the number of unit layers."""
        return len(self.layers) - 1

    def activation_of(self, layer: int) -> Activation:
        """The activation of unit layer ``layer`` (1..depth)."""
        return self._activations[layer]

    @cached_property
    def _activations(self) -> tuple[Activation, ...]:
        # Looked up once per network, not on every layer of every step.
        hidden, output = ACTIVATIONS[self.activation], ACTIVATIONS[self.output_activation]
        return (hidden,) * self.depth + (output,)

    @cached_property
    def loss_function(self) -> Loss:
        return LOSSES[self.loss]


@dataclass(frozen=True)
class Parameters:
    """Weights and biases of every layer (treated as immutable: never written in place)."""

    #: ``weights[l]`` has shape (layers[l], layers[l+1]); entry [i, j] is w_ij of layer l.
    weights: tuple[Array, ...]
    #: ``biases[l]`` has shape (layers[l+1],): the bias of each unit of layer l+1.
    biases: tuple[Array, ...]

    def copy(self) -> Parameters:
        return Parameters(tuple(w.copy() for w in self.weights), tuple(b.copy() for b in self.biases))

    @cached_property
    def vector(self) -> Array:
        """Every weight (layer by layer, row-major), then every bias, in one vector."""
        return np.concatenate([*self.weights, *self.biases], axis=None)

    @cached_property
    def rows(self) -> tuple[list[list[list[float]]], list[list[float]]]:
        """The weights and biases as plain floats, for the single-sample kernels."""
        return [w.tolist() for w in self.weights], [b.tolist() for b in self.biases]


def check_finite(name: str, values: Array) -> None:
    """Refuse non-finite values and values beyond ±MAX_ABS_VALUE."""
    # The common case in one comparison (NaN fails it too, and falls through to the messages);
    # a small array is quicker to check as Python floats than through numpy.
    if values.size <= 64:
        flat = values.ravel().tolist()
        if not flat or (max(map(abs, flat)) <= MAX_ABS_VALUE and math.isfinite(sum(flat))):
            return
    elif float(np.abs(values).max()) <= MAX_ABS_VALUE:
        return
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"{name}: every value must be a finite number (no NaN or infinity)")
    raise InvalidInputError(f"{name}: values must lie within ±{MAX_ABS_VALUE:g}")


def make_parameters(
    arch: Architecture,
    weights: Sequence[Sequence[Sequence[float]]],
    biases: Sequence[Sequence[float]],
) -> Parameters:
    """Parameters from nested lists, with every shape and value checked against ``arch``."""
    if len(weights) != arch.depth:
        raise InvalidInputError(
            f"weights: expected {arch.depth} matrices for layers {list(arch.layers)}, got {len(weights)}"
        )
    if len(biases) != arch.depth:
        raise InvalidInputError(
            f"biases: expected {arch.depth} vectors for layers {list(arch.layers)}, got {len(biases)}"
        )
    ws: list[Array] = []
    bs: list[Array] = []
    for l in range(arch.depth):
        rows, cols = arch.layers[l], arch.layers[l + 1]
        matrix = weights[l]
        if len(matrix) != rows or any(len(row) != cols for row in matrix):
            raise InvalidInputError(
                f"weights[{l}]: expected a {rows}×{cols} matrix (rows = units of layer {l})"
            )
        w = np.array(matrix, dtype=np.float64).reshape(rows, cols)
        check_finite(f"weights[{l}]", w)
        if len(biases[l]) != cols:
            raise InvalidInputError(f"biases[{l}]: expected {cols} values, got {len(biases[l])}")
        b = np.array(biases[l], dtype=np.float64).reshape(cols)
        check_finite(f"biases[{l}]", b)
        ws.append(w)
        bs.append(b)
    return Parameters(tuple(ws), tuple(bs))


def init_parameters(arch: Architecture, seed: int) -> Parameters:
    """Seeded initialisation, the scheme of PyTorch's ``nn.Linear``.

    Every weight and bias of layer l is drawn independently from U(−1/√n, 1/√n), where n is the
    number of units feeding it (``layers[l]``), using numpy's PCG64 generator seeded with ``seed``,
    layer by layer, weights (row-major) before biases. Small, random, never all equal, and the same
    numbers for the same seed on every machine.
    """
    rng = np.random.default_rng(seed)
    weights: list[Array] = []
    biases: list[Array] = []
    for l in range(arch.depth):
        bound = 1.0 / np.sqrt(arch.layers[l])
        weights.append(rng.uniform(-bound, bound, size=(arch.layers[l], arch.layers[l + 1])))
        biases.append(rng.uniform(-bound, bound, size=arch.layers[l + 1]))
    return Parameters(tuple(weights), tuple(biases))


# --------------------------------------------------------------------------------------------
# Traces: named, typed records of every intermediate quantity.
# A trace may be partial while it is being stepped through; missing entries are None.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardTrace:
    """Everything the forward pass computes, for a batch of n samples."""

    #: t: the targets, shape (n, layers[-1]).
    targets: Array
    #: a(l+1) = h(l) w(l) + b(l): pre-activation of layer l+1, shape (n, layers[l+1]).
    pre_activations: tuple[Array | None, ...]
    #: h(l): activation of layer l; h(0) = x is the input, h(L) = y the output.
    activations: tuple[Array | None, ...]
    #: L of each sample, shape (n,), once the loss sub-step has run.
    sample_losses: Array | None

    @property
    def layers_done(self) -> int:
        """How many weight layers have been propagated so far."""
        return sum(a is not None for a in self.pre_activations)

    @property
    def complete(self) -> bool:
        return self.sample_losses is not None

    @property
    def loss(self) -> float | None:
        """Mean loss over the batch (the loss of the single sample for a batch of one)."""
        return None if self.sample_losses is None else mean(self.sample_losses)

    def activation(self, layer: int) -> Array:
        value = self.activations[layer]
        if value is None:
            raise PhaseError(f"the forward pass has not reached layer {layer} yet")
        return value

    def pre_activation(self, layer: int) -> Array:
        """a of unit layer ``layer`` (1..L)."""
        value = self.pre_activations[layer - 1]
        if value is None:
            raise PhaseError(f"the forward pass has not reached layer {layer} yet")
        return value


@dataclass(frozen=True)
class BackwardTrace:
    """Everything the backward pass computes; gradients are means over the batch."""

    #: ∂L/∂h(l+1) for each sample: ∂L/∂y for the output layer, Σ_k δ_k w_jk for hidden layers.
    activation_gradients: tuple[Array | None, ...]
    #: δ(l+1) = ∂L/∂a(l+1) for each sample, shape (n, layers[l+1]).
    deltas: tuple[Array | None, ...]
    #: ∂L/∂w(l) = mean over samples of h(l)ᵀ δ(l+1), shape (layers[l], layers[l+1]).
    weight_gradients: tuple[Array | None, ...]
    #: ∂L/∂b(l) = mean over samples of δ(l+1), shape (layers[l+1],).
    bias_gradients: tuple[Array | None, ...]

    @property
    def layers_done(self) -> int:
        return sum(d is not None for d in self.deltas)

    @property
    def complete(self) -> bool:
        return all(d is not None for d in self.deltas)

    def delta(self, layer: int) -> Array:
        """δ of unit layer ``layer`` (1..L)."""
        value = self.deltas[layer - 1]
        if value is None:
            raise PhaseError(f"δ of layer {layer} has not been computed yet")
        return value

    def weight_gradient(self, l: int) -> Array:
        value = self.weight_gradients[l]
        if value is None:
            raise PhaseError(f"the gradient of weight layer {l} has not been computed yet")
        return value

    def bias_gradient(self, l: int) -> Array:
        value = self.bias_gradients[l]
        if value is None:
            raise PhaseError(f"the gradient of bias layer {l} has not been computed yet")
        return value

    def activation_gradient(self, layer: int) -> Array:
        value = self.activation_gradients[layer - 1]
        if value is None:
            raise PhaseError(f"∂L/∂h of layer {layer} has not been computed yet")
        return value


# --------------------------------------------------------------------------------------------
# Kernels: the arithmetic of one layer. The traced passes below and the lean training step both
# call exactly these, so every path gives the same bits.
#
# A single sample is computed with plain Python floats, in a fixed order (sums run over the index
# in increasing order); a batch with numpy. For a network this small a numpy call costs more than
# the arithmetic it does, so the single-sample kernels are several times faster, and they give the
# same bits on every machine (no BLAS, whose summation order and fused multiply-adds vary).
# --------------------------------------------------------------------------------------------

Row = list[float]


def mean(values: Array) -> float:
    """The mean as numpy computes it (add.reduce, then divide), without np.mean's overhead."""
    if values.size == 1:  # what add.reduce and a division by 1 would give, for a batch of one
        return float(values.reshape(-1)[0])
    return float(np.add.reduce(values, axis=None)) / values.size


def _dense_one(h: Row, w: list[list[float]], b: Row) -> Row:
    """a_j = Σ_i h_i w_ij + b_j for one sample, the sum in increasing i."""
    a: Row = []
    for j, bias in enumerate(b):
        total = 0.0
        for i, hi in enumerate(h):
            total += hi * w[i][j]
        a.append(total + bias)
    return a


Rows = tuple[list[list[list[float]]], list[list[float]]]


def _forward_one(arch: Architecture, rows: Rows, l: int, h: Row) -> tuple[Row, Row]:
    weights, biases = rows
    a = _dense_one(h, weights[l], biases[l])
    f = arch.activation_of(l + 1).scalar
    return a, [f(v) for v in a]


def _backward_one(
    arch: Architecture, rows: Rows, layer: int, a: Row, h: Row, targets: Row, delta_next: Row | None
) -> tuple[Row, Row]:
    """∂L/∂h and δ of unit layer ``layer`` for one sample."""
    derivative = arch.activation_of(layer).scalar_derivative
    if delta_next is None:
        loss = arch.loss_function
        grad_h = [loss.scalar_gradient(y, t) for y, t in zip(h, targets, strict=False)]
        if loss.requires_output == "sigmoid":  # σ'(a) cancels: δ = y − t
            return grad_h, [y - t for y, t in zip(h, targets, strict=False)]
    else:
        w = rows[0][layer]  # the weights out of this layer: w[j][k]
        grad_h = []
        for row in w:
            total = 0.0
            for k, dk in enumerate(delta_next):
                total += dk * row[k]
            grad_h.append(total)
    return grad_h, [g * derivative(av, hv) for g, av, hv in zip(grad_h, a, h, strict=False)]


def _layer_forward(arch: Architecture, params: Parameters, l: int, h: Array) -> tuple[Array, Array]:
    """a(l+1) = h(l) w(l) + b(l) and h(l+1) = f(a(l+1))."""
    if h.shape[0] == 1:
        a_row, h_row = _forward_one(arch, params.rows, l, h[0].tolist())
        return np.array([a_row]), np.array([h_row])
    a = h @ params.weights[l] + params.biases[l]
    return a, arch.activation_of(l + 1).function(a)


def _loss_values(arch: Architecture, a: Array, y: Array, t: Array) -> Array:
    """L of each sample."""
    loss = arch.loss_function
    if y.shape[0] == 1:
        return np.array([loss.scalar_value(a[0].tolist(), y[0].tolist(), t[0].tolist())])
    return loss.value(a, y, t)


def _layer_backward(
    arch: Architecture,
    params: Parameters,
    layer: int,
    a: Array,
    h: Array,
    h_prev: Array,
    targets: Array,
    delta_next: Array | None,
) -> tuple[Array, Array, Array, Array]:
    """∂L/∂h, δ = ∂L/∂a of unit layer ``layer``, and the mean gradients of the weights into it."""
    if h.shape[0] == 1:
        grad_row, delta_row = _backward_one(
            arch,
            params.rows,
            layer,
            a[0].tolist(),
            h[0].tolist(),
            targets[0].tolist(),
            None if delta_next is None else delta_next[0].tolist(),
        )
        weight_rows = [[hi * d for d in delta_row] for hi in h_prev[0].tolist()]
        return np.array([grad_row]), np.array([delta_row]), np.array(weight_rows), np.array(delta_row)
    activation = arch.activation_of(layer)
    if delta_next is None:  # the output layer
        loss = arch.loss_function
        grad_h = loss.output_gradient(h, targets)
        # Cross-entropy on sigmoid outputs: σ'(a) cancels, the well-known simplification δ = y − t.
        cancels = loss.requires_output == "sigmoid"
        delta = h - targets if cancels else grad_h * activation.derivative(a, h)
    else:
        grad_h = delta_next @ params.weights[layer].T
        delta = grad_h * activation.derivative(a, h)
    n = h_prev.shape[0]
    weight_gradient = h_prev.T @ delta / n
    bias_gradient = np.add.reduce(delta, axis=0) / n
    return grad_h, delta, weight_gradient, bias_gradient


def check_learning_rate(learning_rate: float) -> None:
    if learning_rate not in LEARNING_RATE:
        raise InvalidInputError(f"learning_rate: must lie in {LEARNING_RATE}, got {learning_rate}")


def _apply_update(
    params: Parameters,
    weight_gradients: Sequence[Array],
    bias_gradients: Sequence[Array],
    learning_rate: float,
    train_biases: bool,
) -> Parameters:
    # Every parameter moves in one vector operation (elementwise, so exactly the bits of a layer-
    # by-layer update); the new matrices are views of the new vector. Frozen biases get a zero
    # gradient: b − η·0 is b, bit for bit.
    if train_biases:
        gradient = np.concatenate([*weight_gradients, *bias_gradients], axis=None)
    else:
        frozen = np.zeros(sum(b.size for b in params.biases))
        gradient = np.concatenate([*weight_gradients, frozen], axis=None)
    vector = params.vector - learning_rate * gradient
    # One test for every new value (NaN fails the comparison too); only on failure find which.
    if not float(np.maximum.reduce(np.abs(vector), axis=None)) <= MAX_ABS_VALUE:
        _raise_divergence(params, vector)
    arrays: list[Array] = []
    offset = 0
    for old in (*params.weights, *params.biases):
        arrays.append(vector[offset : offset + old.size].reshape(old.shape))
        offset += old.size
    depth = len(params.weights)
    result = Parameters(tuple(arrays[:depth]), tuple(arrays[depth:]))
    result.__dict__["vector"] = vector  # already known: the next update starts from it
    return result


def _raise_divergence(params: Parameters, vector: Array | None) -> None:
    """Name the first array (weights[0], …, biases[0], …) with a value beyond ±MAX_ABS_VALUE.

    ``params`` gives the shapes; the new values are ``vector`` in that order, or ``params`` itself.
    """
    offset = 0
    for kind, arrays in (("weights", params.weights), ("biases", params.biases)):
        for l, old in enumerate(arrays):
            values = old if vector is None else vector[offset : offset + old.size]
            offset += old.size
            if not float(np.abs(values).max()) <= MAX_ABS_VALUE:
                raise DivergenceError(
                    f"the update would move {kind}[{l}] beyond ±{MAX_ABS_VALUE:g}: training has "
                    "diverged; lower the learning rate or reset"
                )


def as_batch(values: Array | Sequence[float] | Sequence[Sequence[float]], width: int, name: str) -> Array:
    """A (n, width) float64 array from one sample or a list of samples, checked."""
    array = (
        values
        if isinstance(values, np.ndarray) and values.dtype == np.float64
        else np.asarray(values, np.float64)
    )
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[1] != width or array.shape[0] < 1:
        raise InvalidInputError(f"{name}: expected {width} values per sample")
    check_finite(name, array)
    return array


def _batches(arch: Architecture, inputs: Array, targets: Array) -> tuple[Array, Array]:
    x = as_batch(inputs, arch.layers[0], "input")
    t = as_batch(targets, arch.layers[-1], "target")
    if x.shape[0] != t.shape[0]:
        raise InvalidInputError("input and target must hold the same number of samples")
    return x, t


# --------------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------------


def start_forward(arch: Architecture, inputs: Array, targets: Array) -> ForwardTrace:
    """A trace with only the input known: the state before the first forward sub-step."""
    x, t = _batches(arch, inputs, targets)
    return ForwardTrace(
        targets=t,
        pre_activations=(None,) * arch.depth,
        activations=(x,) + (None,) * arch.depth,
        sample_losses=None,
    )


def forward_layer(arch: Architecture, params: Parameters, trace: ForwardTrace) -> ForwardTrace:
    """Propagate one more layer: a(l+1) = h(l) w(l) + b(l), h(l+1) = f(a(l+1))."""
    l = trace.layers_done
    if l >= arch.depth:
        raise PhaseError("the forward pass has already reached the output layer")
    a, out = _layer_forward(arch, params, l, trace.activation(l))
    pre = list(trace.pre_activations)
    act = list(trace.activations)
    pre[l] = a
    act[l + 1] = out
    return ForwardTrace(trace.targets, tuple(pre), tuple(act), None)


def compute_loss(arch: Architecture, trace: ForwardTrace) -> ForwardTrace:
    """The loss sub-step: L of each sample from the output and the target."""
    if trace.layers_done < arch.depth:
        raise PhaseError("the loss needs the output: finish the forward pass first")
    y = trace.activation(arch.depth)
    a = trace.pre_activation(arch.depth)
    losses = _loss_values(arch, a, y, trace.targets)
    return ForwardTrace(trace.targets, trace.pre_activations, trace.activations, losses)


def forward(arch: Architecture, params: Parameters, inputs: Array, targets: Array) -> ForwardTrace:
    """The whole forward pass and the loss, for one sample or a batch."""
    trace = start_forward(arch, inputs, targets)
    for _ in range(arch.depth):
        trace = forward_layer(arch, params, trace)
    return compute_loss(arch, trace)


def predict(arch: Architecture, params: Parameters, inputs: Array) -> Array:
    """The network's output for a batch of inputs, without targets or loss (for decision maps)."""
    h = np.asarray(inputs, dtype=np.float64)
    for l in range(arch.depth):
        h = _layer_forward(arch, params, l, h)[1]
    return h


# --------------------------------------------------------------------------------------------
# Backward pass
# --------------------------------------------------------------------------------------------


def start_backward(arch: Architecture) -> BackwardTrace:
    """A trace with no δ computed yet."""
    empty: tuple[Array | None, ...] = (None,) * arch.depth
    return BackwardTrace(empty, empty, empty, empty)


def backward_layer(
    arch: Architecture, params: Parameters, fwd: ForwardTrace, trace: BackwardTrace
) -> BackwardTrace:
    """Compute δ of the next layer going back, and the gradients of the weights into it.

    Output layer: δ = ∂L/∂y · f'(a) (for cross-entropy on sigmoid this is exactly y − t).
    Hidden layer: ∂L/∂h_j = Σ_k δ_k w_jk over the next layer, then δ_j = ∂L/∂h_j · f'(a_j).
    Then ∂L/∂w_ij = δ_j · h_i of the layer before and ∂L/∂b_j = δ_j, averaged over the batch.
    """
    if not fwd.complete:
        raise PhaseError("backward needs a complete forward pass (with the loss) first")
    done = trace.layers_done
    if done >= arch.depth:
        raise PhaseError("the backward pass has already reached the first layer")
    layer = arch.depth - done  # unit layer whose δ this step computes (L, L-1, ..., 1)
    delta_next = None if layer == arch.depth else trace.delta(layer + 1)
    grad_h, delta, weight_gradient, bias_gradient = _layer_backward(
        arch,
        params,
        layer,
        fwd.pre_activation(layer),
        fwd.activation(layer),
        fwd.activation(layer - 1),
        fwd.targets,
        delta_next,
    )

    def put(values: tuple[Array | None, ...], item: Array) -> tuple[Array | None, ...]:
        items = list(values)
        items[layer - 1] = item
        return tuple(items)

    return BackwardTrace(
        activation_gradients=put(trace.activation_gradients, grad_h),
        deltas=put(trace.deltas, delta),
        weight_gradients=put(trace.weight_gradients, weight_gradient),
        bias_gradients=put(trace.bias_gradients, bias_gradient),
    )


def backward(arch: Architecture, params: Parameters, fwd: ForwardTrace) -> BackwardTrace:
    """The whole backward pass: δ of every layer from the output back, and every gradient."""
    trace = start_backward(arch)
    for _ in range(arch.depth):
        trace = backward_layer(arch, params, fwd, trace)
    return trace


# --------------------------------------------------------------------------------------------
# Update and training
# --------------------------------------------------------------------------------------------


def update(
    params: Parameters, grads: BackwardTrace, learning_rate: float, train_biases: bool = True
) -> Parameters:
    """w ← w − η ∂L/∂w for every layer at once (all gradients were computed first).

    Biases follow the same rule unless ``train_biases`` is false. Raises DivergenceError, changing
    nothing, if a new value would be non-finite or beyond ±MAX_ABS_VALUE.
    """
    if not grads.complete:
        raise PhaseError("update needs every gradient: finish the backward pass first")
    check_learning_rate(learning_rate)
    depth = len(params.weights)
    return _apply_update(
        params,
        [grads.weight_gradient(l) for l in range(depth)],
        [grads.bias_gradient(l) for l in range(depth)],
        learning_rate,
        train_biases,
    )


def train_step(
    arch: Architecture,
    params: Parameters,
    inputs: Array,
    targets: Array,
    learning_rate: float,
    train_biases: bool = True,
) -> tuple[Parameters, float]:
    """One forward + backward + update; returns the new parameters and the loss before the update.

    The lean path for training runs: no traces are kept, but every number is computed by the same
    kernels as :func:`forward`, :func:`backward` and :func:`update`, so the result is bit-identical.
    """
    x, t = _batches(arch, inputs, targets)
    check_learning_rate(learning_rate)
    return _train_step(arch, params, x, t, learning_rate, train_biases)


def train_step_checked(
    arch: Architecture,
    params: Parameters,
    inputs: Array,
    targets: Array,
    learning_rate: float,
    train_biases: bool = True,
) -> tuple[Parameters, float]:
    """:func:`train_step` for callers that have checked everything already: inputs and targets
    are (n, width) float64 arrays of finite values within ±MAX_ABS_VALUE and the learning rate is
    valid (a session's data and config are checked when they enter it). Same numbers, no checks."""
    return _train_step(arch, params, inputs, targets, learning_rate, train_biases)


def _step_rows(
    arch: Architecture, rows: Rows, x: Row, t: Row, learning_rate: float, train_biases: bool
) -> tuple[Rows, float]:
    """One full step of one sample on plain floats: the single-sample kernels, then the update
    w − η·(h_i δ_j) computed as the traced path computes it (product, then η times it)."""
    depth = arch.depth
    pre: list[Row] = []
    act: list[Row] = [x]
    for l in range(depth):
        a, h = _forward_one(arch, rows, l, act[l])
        pre.append(a)
        act.append(h)
    loss = arch.loss_function.scalar_value(pre[-1], act[-1], t)
    weights, biases = rows
    new_weights: list[list[list[float]]] = list(weights)
    new_biases: list[list[float]] = list(biases)
    delta: Row | None = None
    for layer in range(depth, 0, -1):
        _, delta = _backward_one(arch, rows, layer, pre[layer - 1], act[layer], t, delta)
        l = layer - 1
        new_weights[l] = [
            [w - learning_rate * (hi * d) for w, d in zip(w_row, delta, strict=False)]
            for hi, w_row in zip(act[l], weights[l], strict=False)
        ]
        if train_biases:
            new_biases[l] = [b - learning_rate * d for b, d in zip(biases[l], delta, strict=False)]
    return (new_weights, new_biases), loss


def _check_rows(rows: Rows) -> None:
    values = [v for w in rows[0] for row in w for v in row]
    values += [v for b in rows[1] for v in b]
    if not (max(map(abs, values)) <= MAX_ABS_VALUE and math.isfinite(sum(values))):
        _from_rows(rows)  # raises, naming the array


def _from_rows(rows: Rows) -> Parameters:
    """Parameters from plain floats: one vector of every value, the arrays are views of it.

    Raises DivergenceError if a value is beyond ±MAX_ABS_VALUE (or not finite).
    """
    values = [v for w in rows[0] for row in w for v in row]
    values += [v for b in rows[1] for v in b]
    vector = np.array(values)
    # NaN fails "<=" but max() may step over it; a NaN or inf anywhere makes the sum non-finite.
    if not (max(map(abs, values)) <= MAX_ABS_VALUE and math.isfinite(sum(values))):
        _raise_divergence(_views(rows, vector), None)
    params = _views(rows, vector)
    params.__dict__["rows"] = rows  # the next single-sample step starts from them
    params.__dict__["vector"] = vector
    return params


def _views(rows: Rows, vector: Array) -> Parameters:
    arrays: list[Array] = []
    offset = 0
    for w in rows[0]:
        size = len(w) * len(w[0])
        arrays.append(vector[offset : offset + size].reshape(len(w), len(w[0])))
        offset += size
    for b in rows[1]:
        arrays.append(vector[offset : offset + len(b)])
        offset += len(b)
    return Parameters(tuple(arrays[: len(rows[0])]), tuple(arrays[len(rows[0]) :]))


def _train_step(
    arch: Architecture, params: Parameters, x: Array, t: Array, learning_rate: float, train_biases: bool
) -> tuple[Parameters, float]:
    if x.shape[0] == 1:
        rows, loss = _step_rows(arch, params.rows, x[0].tolist(), t[0].tolist(), learning_rate, train_biases)
        return _from_rows(rows), loss
    depth = arch.depth
    pre: list[Array] = []
    act: list[Array] = [x]
    for l in range(depth):
        a, h = _layer_forward(arch, params, l, act[l])
        pre.append(a)
        act.append(h)
    loss = mean(_loss_values(arch, pre[-1], act[-1], t))
    weight_gradients: list[Array] = [x] * depth  # placeholders, each overwritten below
    bias_gradients: list[Array] = [x] * depth
    delta: Array | None = None
    for layer in range(depth, 0, -1):
        _, delta, weight_gradients[layer - 1], bias_gradients[layer - 1] = _layer_backward(
            arch, params, layer, pre[layer - 1], act[layer], act[layer - 1], t, delta
        )
    return _apply_update(params, weight_gradients, bias_gradients, learning_rate, train_biases), loss


def train(
    arch: Architecture,
    params: Parameters,
    inputs: Array,
    targets: Array,
    learning_rate: float,
    steps: int,
    train_biases: bool = True,
) -> tuple[Parameters, list[float]]:
    """``steps`` full steps on one batch; the parameters after them and the loss before each."""
    x, t = _batches(arch, inputs, targets)
    check_learning_rate(learning_rate)
    losses: list[float] = []
    if x.shape[0] == 1:
        rows, x_row, t_row = params.rows, x[0].tolist(), t[0].tolist()
        for _ in range(steps):
            rows, loss = _step_rows(arch, rows, x_row, t_row, learning_rate, train_biases)
            _check_rows(rows)
            losses.append(loss)
        return _from_rows(rows), losses
    for _ in range(steps):
        params, loss = _train_step(arch, params, x, t, learning_rate, train_biases)
        losses.append(loss)
    return params, losses


# --------------------------------------------------------------------------------------------
# Finite differences: the independent check of backprop
# --------------------------------------------------------------------------------------------


def mean_loss(arch: Architecture, params: Parameters, inputs: Array, targets: Array) -> float:
    """The mean loss over the batch, for finite-difference checks."""
    loss = forward(arch, params, inputs, targets).loss
    assert loss is not None
    return loss


def numerical_gradients(
    arch: Architecture,
    params: Parameters,
    inputs: Array,
    targets: Array,
    epsilon: float = 1e-6,
) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
    """Central differences (L(θ+ε) − L(θ−ε)) / 2ε for every weight and bias."""

    def estimate(which: str, l: int, index: tuple[int, ...]) -> float:
        values: list[float] = []
        for sign in (1.0, -1.0):
            shifted = params.copy()
            target = (shifted.weights if which == "w" else shifted.biases)[l]
            target[index] += sign * epsilon
            values.append(mean_loss(arch, shifted, inputs, targets))
        return (values[0] - values[1]) / (2.0 * epsilon)

    weight_grads = tuple(
        np.array([[estimate("w", l, (i, j)) for j in range(w.shape[1])] for i in range(w.shape[0])])
        for l, w in enumerate(params.weights)
    )
    bias_grads = tuple(
        np.array([estimate("b", l, (j,)) for j in range(b.shape[0])]) for l, b in enumerate(params.biases)
    )
    return weight_grads, bias_grads
