"""Finite differences: the independent check of backprop."""

from __future__ import annotations

import numpy as np

from app.engine.arrays import Array
from app.engine.network import Architecture, Parameters
from app.engine.passes import forward


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
