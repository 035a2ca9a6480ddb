"""Property tests of the engine (hypothesis): any network the limits allow (2 to 6 layers of 1 to 8
units, any activations, any loss with the output it needs), any parameters, inputs and targets
within ±1e6, one sample or a batch — the forward pass, the loss, every δ and every gradient are
finite, an update is finite or refused as diverged, and no numpy warning is raised (pytest turns
every warning into an error). Examples are drawn deterministically, so a run is repeatable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app import engine
from app.engine import ACTIVATIONS, LOSSES, Architecture, Array, Parameters
from app.errors import DivergenceError
from app.limits import LEARNING_RATE, MAX_ABS_VALUE, MAX_LAYERS, MAX_UNITS, MIN_LAYERS, MIN_UNITS

PROPERTIES = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Any number an input, target or parameter may hold: the edges (0, ±1e6, the smallest subnormal)
#: come up often, as hypothesis favours them.
VALUES = st.floats(-MAX_ABS_VALUE, MAX_ABS_VALUE, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class Case:
    arch: Architecture
    params: Parameters
    inputs: Array
    targets: Array
    learning_rate: float


def matrix(draw: st.DrawFn, rows: int, cols: int) -> Array:
    values: Array = draw(arrays(np.float64, (rows, cols), elements=VALUES))
    return values


@st.composite
def cases(draw: st.DrawFn) -> Case:
    layers = draw(st.lists(st.integers(MIN_UNITS, MAX_UNITS), min_size=MIN_LAYERS, max_size=MAX_LAYERS))
    loss = draw(st.sampled_from(sorted(LOSSES)))
    required = LOSSES[loss].requires_output
    output = required if required is not None else draw(st.sampled_from(sorted(ACTIVATIONS)))
    arch = Architecture(tuple(layers), draw(st.sampled_from(sorted(ACTIVATIONS))), output, loss)
    params = Parameters(
        tuple(matrix(draw, layers[l], layers[l + 1]) for l in range(arch.depth)),
        tuple(matrix(draw, 1, layers[l + 1])[0] for l in range(arch.depth)),
    )
    samples = draw(st.integers(1, 6))
    learning_rate = draw(st.floats(LEARNING_RATE.low, LEARNING_RATE.high, exclude_min=True))
    return Case(
        arch, params, matrix(draw, samples, layers[0]), matrix(draw, samples, layers[-1]), learning_rate
    )


def assert_finite(name: str, values: Array | float | None) -> None:
    assert values is not None, name
    assert np.all(np.isfinite(values)), name


@PROPERTIES
@given(cases())
def test_any_allowed_network_computes_finite_outputs_losses_and_gradients(case: Case) -> None:
    fwd = engine.forward(case.arch, case.params, case.inputs, case.targets)
    for l, (a, h) in enumerate(zip(fwd.pre_activations, fwd.activations[1:], strict=True)):
        assert_finite(f"a({l + 1})", a)
        assert_finite(f"h({l + 1})", h)
    assert_finite("L per sample", fwd.sample_losses)
    assert_finite("L", fwd.loss)
    bwd = engine.backward(case.arch, case.params, fwd)
    for l in range(case.arch.depth):
        assert_finite(f"∂L/∂h({l + 1})", bwd.activation_gradients[l])
        assert_finite(f"δ({l + 1})", bwd.deltas[l])
        assert_finite(f"∂L/∂w({l})", bwd.weight_gradients[l])
        assert_finite(f"∂L/∂b({l})", bwd.bias_gradients[l])


@PROPERTIES
@given(cases())
def test_an_update_is_finite_within_the_bounds_or_refused_and_a_step_is_the_three_phases(case: Case) -> None:
    fwd = engine.forward(case.arch, case.params, case.inputs, case.targets)
    bwd = engine.backward(case.arch, case.params, fwd)
    try:
        updated = engine.update(case.params, bwd, case.learning_rate)
    except DivergenceError:
        updated = None
    try:
        stepped, loss = engine.train_step(
            case.arch, case.params, case.inputs, case.targets, case.learning_rate
        )
    except DivergenceError:
        assert updated is None  # the lean step refuses exactly what the three phases refuse
        return
    assert updated is not None
    assert loss == fwd.loss
    for ours, theirs in zip(
        (*stepped.weights, *stepped.biases), (*updated.weights, *updated.biases), strict=True
    ):
        assert np.array_equal(ours, theirs)  # bit for bit: the same kernels in the same order
        assert_finite("new parameters", ours)
        assert float(np.abs(ours).max()) <= MAX_ABS_VALUE
