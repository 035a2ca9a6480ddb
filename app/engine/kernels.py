"""The arithmetic of one layer, for a batch of samples: numpy, or the float kernels of
:mod:`app.engine.scalar` for a batch of one. The traced passes and the lean training step both call
exactly these, so every path gives the same bits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.arrays import Array
from app.engine.network import Architecture, FlatForms, Parameters, raise_divergence
from app.engine.scalar import backward_one, forward_one
from app.limits import MAX_ABS_VALUE


def layer_forward(arch: Architecture, params: Parameters, l: int, h: Array) -> tuple[Array, Array]:
    """a(l+1) = h(l) w(l) + b(l) and h(l+1) = f(a(l+1))."""
    if h.shape[0] == 1:
        a_row, h_row = forward_one(arch, params.rows, l, h[0].tolist())
        return np.array([a_row]), np.array([h_row])
    a = h @ params.weights[l] + params.biases[l]
    return a, arch.activation_of(l + 1).function(a)


def loss_values(arch: Architecture, a: Array, y: Array, t: Array) -> Array:
    """L of each sample."""
    loss = arch.loss_function
    if y.shape[0] == 1:
        return np.array([loss.scalar_value(a[0].tolist(), y[0].tolist(), t[0].tolist())])
    return loss.value(a, y, t)


def layer_backward(
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
        grad_row, delta_row = backward_one(
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


def apply_update(
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
        raise_divergence(params, vector)
    arrays: list[Array] = []
    offset = 0
    for old in (*params.weights, *params.biases):
        arrays.append(vector[offset : offset + old.size].reshape(old.shape))
        offset += old.size
    depth = len(params.weights)
    # The vector is known already: the next update starts from it.
    return Parameters(tuple(arrays[:depth]), tuple(arrays[depth:]), FlatForms(vector))
