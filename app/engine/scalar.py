"""The single-sample kernels: one layer of one sample on plain Python floats, in a fixed order.

Sums run over the index in increasing order. For a network this small a numpy call costs more than
the arithmetic it does, so these kernels are several times faster than numpy's for one sample, and
they give the same bits on every machine (no BLAS, whose summation order and fused multiply-adds
vary). :mod:`app.engine.kernels` calls them for a batch of one."""

from __future__ import annotations

import math

import numpy as np

from app.engine.arrays import Array
from app.engine.network import Architecture, FlatForms, Parameters, Rows, raise_divergence
from app.limits import MAX_ABS_VALUE

Row = list[float]


def dense_one(h: Row, w: list[list[float]], b: Row) -> Row:
    """a_j = Σ_i h_i w_ij + b_j for one sample, the sum in increasing i."""
    a: Row = []
    for j, bias in enumerate(b):
        total = 0.0
        for i, hi in enumerate(h):
            total += hi * w[i][j]
        a.append(total + bias)
    return a


def forward_one(arch: Architecture, rows: Rows, l: int, h: Row) -> tuple[Row, Row]:
    weights, biases = rows
    a = dense_one(h, weights[l], biases[l])
    f = arch.activation_of(l + 1).scalar
    return a, [f(v) for v in a]


def backward_one(
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


def step_rows(
    arch: Architecture, rows: Rows, x: Row, t: Row, learning_rate: float, train_biases: bool
) -> tuple[Rows, float]:
    """One full step of one sample on plain floats: the single-sample kernels, then the update
    w − η·(h_i δ_j) computed as the traced path computes it (product, then η times it)."""
    depth = arch.depth
    pre: list[Row] = []
    act: list[Row] = [x]
    for l in range(depth):
        a, h = forward_one(arch, rows, l, act[l])
        pre.append(a)
        act.append(h)
    loss = arch.loss_function.scalar_value(pre[-1], act[-1], t)
    weights, biases = rows
    new_weights: list[list[list[float]]] = list(weights)
    new_biases: list[list[float]] = list(biases)
    delta: Row | None = None
    for layer in range(depth, 0, -1):
        _, delta = backward_one(arch, rows, layer, pre[layer - 1], act[layer], t, delta)
        l = layer - 1
        new_weights[l] = [
            [w - learning_rate * (hi * d) for w, d in zip(w_row, delta, strict=False)]
            for hi, w_row in zip(act[l], weights[l], strict=False)
        ]
        if train_biases:
            new_biases[l] = [b - learning_rate * d for b, d in zip(biases[l], delta, strict=False)]
    return (new_weights, new_biases), loss


def check_rows(rows: Rows) -> None:
    values = [v for w in rows[0] for row in w for v in row]
    values += [v for b in rows[1] for v in b]
    if not (max(map(abs, values)) <= MAX_ABS_VALUE and math.isfinite(sum(values))):
        from_rows(rows)  # raises, naming the array


def from_rows(rows: Rows) -> Parameters:
    """Parameters from plain floats: one vector of every value, the arrays are views of it.

    Raises DivergenceError if a value is beyond ±MAX_ABS_VALUE (or not finite).
    """
    values = [v for w in rows[0] for row in w for v in row]
    values += [v for b in rows[1] for v in b]
    vector = np.array(values)
    # NaN fails "<=" but max() may step over it; a NaN or inf anywhere makes the sum non-finite.
    if not (max(map(abs, values)) <= MAX_ABS_VALUE and math.isfinite(sum(values))):
        raise_divergence(_views(rows, vector), None)
    # The next single-sample step starts from these rows: hand them over with the vector.
    return _views(rows, vector, FlatForms(vector, rows))


def _views(rows: Rows, vector: Array, flat: FlatForms | None = None) -> Parameters:
    arrays: list[Array] = []
    offset = 0
    for w in rows[0]:
        size = len(w) * len(w[0])
        arrays.append(vector[offset : offset + size].reshape(len(w), len(w[0])))
        offset += size
    for b in rows[1]:
        arrays.append(vector[offset : offset + len(b)])
        offset += len(b)
    weights, biases = tuple(arrays[: len(rows[0])]), tuple(arrays[len(rows[0]) :])
    return Parameters(weights, biases, flat or FlatForms(vector))
