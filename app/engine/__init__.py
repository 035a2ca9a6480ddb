"""The backpropagation engine: a fully connected network in pure numpy.

Notation and index conventions follow MATH.md (the article's): ``weights[l][i][j]`` joins unit i of
layer l to unit j of layer l+1; ``pre_activations[l]`` (a), ``deltas[l]`` (δ = ∂L/∂a) and
``biases[l]`` belong to layer l+1; ``activations[0]`` is the input x and ``activations[-1]`` the
output y. Every array that depends on a sample has the samples along axis 0, so a single sample is
a batch of one and a dataset is a batch of many.

The coarse functions (:func:`forward`, :func:`backward`) are folds over the fine ones
(:func:`forward_layer`, :func:`compute_loss`, :func:`backward_layer`), so stepping one layer at a
time gives bit-for-bit the same numbers as one coarse step; :func:`train_step` and :func:`run_steps`
run the same kernels without keeping traces. A single sample is computed with plain floats in a
fixed order, a batch with numpy (see ``scalar`` and ``kernels``).

This package imports numpy and the standard library only (and the app's error and bound modules,
which import nothing). Its modules, lowest first: ``arrays``, ``functions`` (activations and
losses), ``network`` (architecture and parameters), ``traces``, ``scalar`` (single-sample float
kernels), ``kernels`` (one layer, numpy or float), ``passes`` (forward, backward, update,
training), ``gradients`` (finite differences).

No float64 overflow can happen in this engine, so it needs no np.errstate: inputs, targets and
parameters are kept within ±MAX_ABS_VALUE, so with at most MAX_UNITS units and MAX_LAYERS layers
every a, h, loss and gradient stays below about 1e130, far inside float64; the sigmoid and the
cross-entropy are written so that they never overflow; and an update that would leave the box
raises DivergenceError.
"""

from __future__ import annotations

from app.engine.arrays import Array, mean
from app.engine.functions import ACTIVATIONS, LOSSES, Activation, Loss
from app.engine.gradients import mean_loss, numerical_gradients
from app.engine.network import (
    Architecture,
    Parameters,
    check_finite,
    check_learning_rate,
    init_parameters,
    make_parameters,
)
from app.engine.passes import (
    as_batch,
    backward,
    backward_layer,
    compute_loss,
    forward,
    forward_layer,
    predict,
    run_steps,
    start_backward,
    start_forward,
    train_step,
    train_step_checked,
    update,
)
from app.engine.traces import BackwardTrace, ForwardTrace

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "Activation",
    "Architecture",
    "Array",
    "BackwardTrace",
    "ForwardTrace",
    "Loss",
    "Parameters",
    "as_batch",
    "backward",
    "backward_layer",
    "check_finite",
    "check_learning_rate",
    "compute_loss",
    "forward",
    "forward_layer",
    "init_parameters",
    "make_parameters",
    "mean",
    "mean_loss",
    "numerical_gradients",
    "predict",
    "run_steps",
    "start_backward",
    "start_forward",
    "train_step",
    "train_step_checked",
    "update",
]
