"""The forward and backward passes, the update and training: folds over the kernels.

The coarse functions (:func:`forward`, :func:`backward`) are folds over the fine ones
(:func:`forward_layer`, :func:`compute_loss`, :func:`backward_layer`), so stepping one layer at a
time gives bit-for-bit the same numbers as one coarse step; :func:`train_step` and :func:`run_steps`
run the same kernels without keeping traces."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.arrays import Array, mean
from app.engine.kernels import apply_update, layer_backward, layer_forward, loss_values
from app.engine.network import Architecture, Parameters, check_finite, check_learning_rate
from app.engine.scalar import check_rows, from_rows, step_rows
from app.engine.traces import BackwardTrace, ForwardTrace
from app.errors import InvalidInputError, PhaseError


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
    a, out = layer_forward(arch, params, l, trace.activation(l))
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
    losses = loss_values(arch, a, y, trace.targets)
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
        h = layer_forward(arch, params, l, h)[1]
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
    grad_h, delta, weight_gradient, bias_gradient = layer_backward(
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
    return apply_update(
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


def _train_step(
    arch: Architecture, params: Parameters, x: Array, t: Array, learning_rate: float, train_biases: bool
) -> tuple[Parameters, float]:
    if x.shape[0] == 1:
        rows, loss = step_rows(arch, params.rows, x[0].tolist(), t[0].tolist(), learning_rate, train_biases)
        return from_rows(rows), loss
    depth = arch.depth
    pre: list[Array] = []
    act: list[Array] = [x]
    for l in range(depth):
        a, h = layer_forward(arch, params, l, act[l])
        pre.append(a)
        act.append(h)
    loss = mean(loss_values(arch, pre[-1], act[-1], t))
    weight_gradients: list[Array] = [x] * depth  # placeholders, each overwritten below
    bias_gradients: list[Array] = [x] * depth
    delta: Array | None = None
    for layer in range(depth, 0, -1):
        _, delta, weight_gradients[layer - 1], bias_gradients[layer - 1] = layer_backward(
            arch, params, layer, pre[layer - 1], act[layer], act[layer - 1], t, delta
        )
    return apply_update(params, weight_gradients, bias_gradients, learning_rate, train_biases), loss


def run_steps(
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
            rows, loss = step_rows(arch, rows, x_row, t_row, learning_rate, train_biases)
            check_rows(rows)
            losses.append(loss)
        return from_rows(rows), losses
    for _ in range(steps):
        params, loss = _train_step(arch, params, x, t, learning_rate, train_biases)
        losses.append(loss)
    return params, losses
