"""The gradient check: backprop against central finite differences, for every parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app import engine, gradcheck, session
from app.errors import InvalidInputError
from tests.test_explain import CONFIGS, backward, batch, make, quantities

GRADIENT_CHECK_TOLERANCE = 1e-8


@pytest.mark.parametrize(
    "options",
    [
        {},
        CONFIGS["2-3-3-2 tanh linear"],
        CONFIGS["2-3-2 bce"],
        CONFIGS["3-2-2-1 no biases trained"],
        {"dataset": "xor", "mode": "batch", "layers": [2, 4, 1], "activation": "tanh"},
    ],
    ids=["2-3-2", "deep", "bce", "3-2-2-1", "xor batch"],
)
def test_gradient_check_agrees_for_every_parameter(options: dict[str, object]) -> None:
    s = session.run_step(make(**options))  # after an update: checked at the new parameters
    checked = gradcheck.gradient_check(s)
    arch = s.arch
    count = sum(w.size + b.size for w, b in zip(s.params.weights, s.params.biases, strict=True))
    assert len(checked.rows) == count
    assert {(r.kind, r.index) for r in checked.rows} == {
        (kind, index) for kind, index in quantities(arch) if kind in ("weight", "bias")
    }
    assert len({r.name for r in checked.rows}) == count
    inputs, targets = batch(s)
    grads = engine.backward(arch, s.params, engine.forward(arch, s.params, inputs, targets))
    for row in checked.rows:
        l = row.index[0]
        exact = (
            grads.weight_gradient(l)[row.index[1:]]
            if row.kind == "weight"
            else grads.bias_gradient(l)[row.index[1]]
        )
        assert row.backprop == exact
        assert row.difference == row.backprop - row.numerical
        assert abs(row.difference) < GRADIENT_CHECK_TOLERANCE, row
    assert checked.max_abs_difference == max(abs(r.difference) for r in checked.rows)
    assert checked.max_abs_difference < GRADIENT_CHECK_TOLERANCE
    assert checked.epsilon == 1e-6


def test_gradient_check_names_and_leaves_the_session_alone() -> None:
    s = backward(make())
    before = (s.phase, [w.copy() for w in s.params.weights], s.forward, s.backward)
    checked = gradcheck.gradient_check(s)
    assert [r.name for r in checked.rows][:6] == ["w11", "w12", "w13", "w21", "w22", "w23"]
    assert [r.name for r in checked.rows][-5:] == ["b(1)1", "b(1)2", "b(1)3", "b(2)1", "b(2)2"]
    assert s.phase == before[0] and s.forward is before[2] and s.backward is before[3]
    for w, old in zip(s.params.weights, before[1], strict=True):
        assert np.array_equal(w, old)


@pytest.mark.parametrize("epsilon", [0.0, -1e-6, 1.0, math.nan])
def test_gradient_check_refuses_a_bad_epsilon(epsilon: float) -> None:
    with pytest.raises(InvalidInputError, match="epsilon"):
        gradcheck.gradient_check(make(), epsilon)
