"""The session value and the pure functions that step it (app/session.py).

Bit-identity (np.array_equal) is asserted wherever the design promises that two paths run the same
float operations in the same order (train vs single steps, sub-steps vs coarse steps, undo/restore vs
a fresh run). Comparisons with an independent computation use a stated tolerance.

The ``assert_*`` helpers are shared with test_store.py and test_codec.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app import engine, session
from app.datasets import Dataset, builtin
from app.engine import Architecture, BackwardTrace, ForwardTrace, Parameters
from app.errors import DivergenceError, InvalidInputError, NotKeptError, PhaseError
from app.limits import MAX_HISTORY, MAX_TRAIN_EPOCHS, MAX_TRAIN_STEPS
from app.session import (
    PHASES,
    Config,
    Phase,
    Session,
    create,
    describe_substep,
    edit,
    progress_of,
    replay,
    reset,
    restore,
    run_backward,
    run_forward,
    run_step,
    run_steps,
    run_substep,
    run_update,
    substep_position,
    train,
    undo,
)

# --------------------------------------------------------------------------------------------
# Helpers (also used by test_store.py and test_codec.py)
# --------------------------------------------------------------------------------------------


def assert_arrays_equal(a: np.ndarray | None, b: np.ndarray | None, what: str) -> None:
    """Bit-identical arrays (same shape, dtype and every value), or both None."""
    if a is None or b is None:
        assert a is None, f"{what}: {a!r} vs {b!r}"
        assert b is None, f"{what}: {a!r} vs {b!r}"
        return
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs {b.dtype}"
    assert np.array_equal(a, b), f"{what}: {a!r} vs {b!r}"


def assert_array_tuples_equal(
    a: tuple[np.ndarray | None, ...], b: tuple[np.ndarray | None, ...], what: str
) -> None:
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} entries"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert_arrays_equal(x, y, f"{what}[{i}]")


def assert_params_equal(a: Parameters | None, b: Parameters | None, what: str = "params") -> None:
    if a is None or b is None:
        assert a is None, f"{what}: one is None"
        assert b is None, f"{what}: one is None"
        return
    assert_array_tuples_equal(a.weights, b.weights, f"{what}.weights")
    assert_array_tuples_equal(a.biases, b.biases, f"{what}.biases")


def assert_forward_equal(a: ForwardTrace | None, b: ForwardTrace | None) -> None:
    if a is None or b is None:
        assert a is None, "forward trace: one is None"
        assert b is None, "forward trace: one is None"
        return
    assert_arrays_equal(a.targets, b.targets, "forward.targets")
    assert_array_tuples_equal(a.pre_activations, b.pre_activations, "forward.pre_activations")
    assert_array_tuples_equal(a.activations, b.activations, "forward.activations")
    assert_arrays_equal(a.sample_losses, b.sample_losses, "forward.sample_losses")


def assert_backward_equal(a: BackwardTrace | None, b: BackwardTrace | None) -> None:
    if a is None or b is None:
        assert a is None, "backward trace: one is None"
        assert b is None, "backward trace: one is None"
        return
    assert_array_tuples_equal(a.activation_gradients, b.activation_gradients, "backward.activation_gradients")
    assert_array_tuples_equal(a.deltas, b.deltas, "backward.deltas")
    assert_array_tuples_equal(a.weight_gradients, b.weight_gradients, "backward.weight_gradients")
    assert_array_tuples_equal(a.bias_gradients, b.bias_gradients, "backward.bias_gradients")


def assert_data_equal(a: Dataset, b: Dataset, what: str = "data") -> None:
    assert a.name == b.name, f"{what}.name"
    assert_arrays_equal(a.inputs, b.inputs, f"{what}.inputs")
    assert_arrays_equal(a.targets, b.targets, f"{what}.targets")


def assert_same_state(a: Session, b: Session) -> None:
    """The visible state: parameters, step, losses, phase, sample and every trace."""
    assert_params_equal(a.params, b.params)
    assert a.step == b.step
    assert a.loss_history == b.loss_history
    assert a.phase == b.phase
    assert a.sample_index == b.sample_index
    assert_params_equal(a.previous, b.previous, "previous")
    assert_forward_equal(a.forward, b.forward)
    assert_backward_equal(a.backward, b.backward)


def assert_sessions_equal(a: Session, b: Session) -> None:
    """Every field of two sessions, arrays bit for bit."""
    assert a.id == b.id
    assert a.config == b.config
    assert_data_equal(a.data, b.data)
    assert a.origin.config == b.origin.config
    assert_params_equal(a.origin.params, b.origin.params, "origin.params")
    assert_data_equal(a.origin.data, b.origin.data, "origin.data")
    assert_same_state(a, b)
    assert tuple(a.history.losses().tolist()) == tuple(b.history.losses().tolist())
    assert a.recent_losses == b.recent_losses
    assert a.history.summary() == b.history.summary()
    assert len(a.history.snapshots()) == len(b.history.snapshots())
    for x, y in zip(a.history.snapshots(), b.history.snapshots(), strict=True):
        assert (x.step, x.loss, x.sample_index) == (y.step, y.loss, y.sample_index)
        assert_params_equal(x.params, y.params, f"history[{x.step}].params")
        assert_params_equal(x.previous, y.previous, f"history[{x.step}].previous")


def stepped(session: Session, count: int) -> Session:
    """``count`` single run_step calls."""
    for _ in range(count):
        session = run_step(session)
    return session


def in_phase(phase: Phase, session: Session | None = None) -> Session:
    """A default (depth-2) session brought into ``phase``."""
    s = create("p") if session is None else session
    if phase == "idle":
        return s
    if phase == "forwarding":
        return run_substep(s)
    if phase == "forward":
        return run_forward(s)
    if phase == "backwarding":
        return run_substep(run_forward(s))
    if phase == "backward":
        return run_backward(run_forward(s))
    return run_step(s)


#: Tolerance against an independent computation (a different order of the same float operations).
RTOL, ATOL = 1e-12, 1e-15


def sigmoid(a: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-a))
    return result


# Matt Mazur's worked example (2-2-2, weights only updated), in weights[l][i][j] = from i to j.
MAZUR_WEIGHTS = [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]]
MAZUR_BIASES = [[0.35, 0.35], [0.60, 0.60]]


def mazur() -> Session:
    return create("m", layers=[2, 2, 2], weights=MAZUR_WEIGHTS, biases=MAZUR_BIASES, train_biases=False)


# --------------------------------------------------------------------------------------------
# Creating
# --------------------------------------------------------------------------------------------


def test_default_create_is_the_article_setting() -> None:
    s = create("abc")
    assert s.id == "abc"
    assert s.arch == Architecture((2, 3, 2), "sigmoid", "sigmoid", "l2")
    assert s.config == Config(Architecture((2, 3, 2), "sigmoid", "sigmoid", "l2"), 0.5, True, 0, "sgd")
    assert s.config.learning_rate == 0.5
    assert s.input == [0.05, 0.1]
    assert s.target == [0.01, 0.99]
    assert s.phase == "idle"
    assert s.step == 0
    assert s.loss_history == ()
    assert s.sample_index == 0
    assert s.forward is None
    assert s.backward is None
    assert s.previous is None
    assert len(s.data) == 1
    assert s.data.is_single
    assert [w.shape for w in s.params.weights] == [(2, 3), (3, 2)]
    assert [b.shape for b in s.params.biases] == [(3,), (2,)]
    assert [(h.step, h.loss, h.sample_index, h.previous) for h in s.history.snapshots()] == [
        (0, None, 0, None)
    ]
    assert_params_equal(s.history.snapshots()[0].params, s.params)
    assert_params_equal(s.origin.params, s.params, "origin")


def test_seeded_weights_are_reproducible_and_follow_the_documented_scheme() -> None:
    a, b = create("a", seed=7), create("b", seed=7)
    assert_params_equal(a.params, b.params)
    other = create("c", seed=8)
    assert not np.array_equal(a.params.weights[0], other.params.weights[0])
    # U(−1/√n, 1/√n) per layer from PCG64(seed), weights before biases, layer by layer.
    rng = np.random.default_rng(7)
    expected_w0 = rng.uniform(-1 / np.sqrt(2), 1 / np.sqrt(2), size=(2, 3))
    expected_b0 = rng.uniform(-1 / np.sqrt(2), 1 / np.sqrt(2), size=3)
    expected_w1 = rng.uniform(-1 / np.sqrt(3), 1 / np.sqrt(3), size=(3, 2))
    expected_b1 = rng.uniform(-1 / np.sqrt(3), 1 / np.sqrt(3), size=2)
    assert_arrays_equal(a.params.weights[0], expected_w0, "w0")
    assert_arrays_equal(a.params.biases[0], expected_b0, "b0")
    assert_arrays_equal(a.params.weights[1], expected_w1, "w1")
    assert_arrays_equal(a.params.biases[1], expected_b1, "b1")


def test_create_with_explicit_weights_and_biases() -> None:
    s = mazur()
    assert_arrays_equal(s.params.weights[0], np.array([[0.15, 0.25], [0.20, 0.30]]), "w0")
    assert_arrays_equal(s.params.weights[1], np.array([[0.40, 0.50], [0.45, 0.55]]), "w1")
    assert_arrays_equal(s.params.biases[0], np.array([0.35, 0.35]), "b0")
    assert_arrays_equal(s.params.biases[1], np.array([0.60, 0.60]), "b1")
    assert s.config.train_biases is False
    # Only weights given: the biases come from the seed.
    seeded = create("s", seed=3)
    only_w = create("w", seed=3, weights=[[[0.0] * 3] * 2, [[0.0] * 2] * 3])
    assert_array_tuples_equal(only_w.params.biases, seeded.params.biases, "biases")
    assert all(np.array_equal(w, np.zeros_like(w)) for w in only_w.params.weights)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]]]}, r"weights\[0\]: expected a 2×3"),
        ({"biases": [[0.1, 0.2], [0.1, 0.2]]}, r"biases\[0\]: expected 3 values"),
        ({"weights": [[[float("nan")] * 3] * 2, [[0.0] * 2] * 3]}, "finite"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"input": [1.0, 2.0, 3.0]}, "input: the network has 2 inputs"),
        ({"dataset": "xor", "input": [0.0, 1.0]}, "either a dataset or an input"),
        ({"dataset": "nope"}, "unknown built-in dataset"),
        ({"mode": "minibatch"}, "mode"),
    ],
)
def test_create_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        create("x", **kwargs)  # type: ignore[arg-type]


def test_create_with_a_dataset_sizes_the_network_from_it() -> None:
    s = create("x", dataset="xor")
    assert s.arch.layers == (2, 3, 1)
    assert s.data.name == "xor"
    assert len(s.data) == 4
    assert s.input == [0.0, 0.0]
    assert s.target == [0.0]


# --------------------------------------------------------------------------------------------
# The phase machine
# --------------------------------------------------------------------------------------------


def test_mazur_worked_example() -> None:
    """The article's numbers (Mazur's worked example), to 1e-8: forward, loss and the update."""
    s = run_forward(mazur())
    assert s.phase == "forward"
    assert s.forward is not None
    np.testing.assert_allclose(s.forward.activation(1), [[0.593269992, 0.596884378]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(s.forward.activation(2), [[0.75136507, 0.772928465]], rtol=0, atol=1e-8)
    assert s.forward.loss == pytest.approx(0.298371109, abs=1e-9)
    s = run_update(run_backward(s))
    np.testing.assert_allclose(
        s.params.weights[1], [[0.35891648, 0.511301270], [0.408666186, 0.561370121]], rtol=0, atol=1e-8
    )
    np.testing.assert_allclose(
        s.params.weights[0], [[0.149780716, 0.24975114], [0.19956143, 0.29950229]], rtol=0, atol=1e-8
    )
    # train_biases=False: the biases stay exactly as they were.
    assert_array_tuples_equal(s.params.biases, mazur().params.biases, "biases")


def test_the_update_uses_gradients_computed_before_any_weight_changes() -> None:
    s = create("g", seed=5)
    w0, w1 = s.params.weights
    b0, b1 = s.params.biases
    x, t, eta = np.array([[0.05, 0.1]]), np.array([[0.01, 0.99]]), 0.5
    # MATH.md, every δ from the old weights.
    h = sigmoid(x @ w0 + b0)
    y = sigmoid(h @ w1 + b1)
    delta2 = (y - t) * y * (1 - y)
    delta1 = (delta2 @ w1.T) * h * (1 - h)
    backwarded = run_backward(run_forward(s))
    assert backwarded.backward is not None
    np.testing.assert_allclose(backwarded.backward.weight_gradient(1), h.T @ delta2, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(backwarded.backward.weight_gradient(0), x.T @ delta1, rtol=RTOL, atol=ATOL)
    after = run_update(backwarded)
    np.testing.assert_allclose(after.params.weights[1], w1 - eta * h.T @ delta2, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(after.params.weights[0], w0 - eta * x.T @ delta1, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(after.params.biases[1], b1 - eta * delta2[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(after.params.biases[0], b0 - eta * delta1[0], rtol=RTOL, atol=ATOL)
    # ... and bit for bit the gradients of the backward trace, applied all at once.
    for l in range(2):
        expected = backwarded.params.weights[l] - eta * backwarded.backward.weight_gradient(l)
        assert_arrays_equal(after.params.weights[l], expected, f"w{l}")
    # A sequential update (δ(1) from the already-updated u) would differ well beyond the tolerance.
    sequential_delta1 = (delta2 @ (w1 - eta * h.T @ delta2).T) * h * (1 - h)
    assert not np.allclose(w0 - eta * x.T @ sequential_delta1, after.params.weights[0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("phase", PHASES)
def test_forward_is_allowed_from_every_phase(phase: Phase) -> None:
    s = in_phase(phase)
    assert s.phase == phase
    forwarded = run_forward(s)
    assert forwarded.phase == "forward"
    assert forwarded.backward is None
    assert forwarded.previous is None
    assert forwarded.step == s.step
    # Recomputed from the current parameters (the new ones after an update).
    fresh = run_forward(
        create(
            "p", weights=[w.tolist() for w in s.params.weights], biases=[b.tolist() for b in s.params.biases]
        )
    )
    assert_forward_equal(forwarded.forward, fresh.forward)


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ("idle", "run forward first"),
        ("updated", "forward pass with the new weights: run forward first"),
        ("forwarding", "forward pass is not finished: run forward"),
        ("backward", "backward is already done: update comes next"),
    ],
)
def test_backward_only_after_a_finished_forward(phase: Phase, message: str) -> None:
    s = in_phase(phase)
    with pytest.raises(PhaseError, match=message):
        run_backward(s)


@pytest.mark.parametrize("phase", ["forward", "backwarding"])
def test_backward_from_forward_or_a_partial_backward(phase: Phase) -> None:
    s = in_phase(phase)
    done = run_backward(s)
    assert done.phase == "backward"
    assert_backward_equal(done.backward, run_backward(run_forward(create("p"))).backward)


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ("idle", "run forward, then backward, first"),
        ("forwarding", "finish forward, then run backward, first"),
        ("forward", "run backward first"),
        ("backwarding", "backward pass is not finished: run backward"),
        ("updated", "run forward, then backward, before the next update"),
    ],
)
def test_update_only_after_backward(phase: Phase, message: str) -> None:
    s = in_phase(phase)
    with pytest.raises(PhaseError, match=message):
        run_update(s)


def test_step_is_forward_backward_update() -> None:
    s = create("s", seed=2)
    by_hand = run_update(run_backward(run_forward(s)))
    assert_sessions_equal(run_step(s), by_hand)
    assert by_hand.phase == "updated"
    assert_params_equal(by_hand.previous, s.params, "previous")
    # The traces shown after an update are those of the old parameters.
    assert_params_equal(by_hand.shown_params, s.params, "shown")


def test_loss_history_gets_the_loss_of_the_forward_pass_behind_each_update() -> None:
    s = create("l", seed=4)
    losses: list[float] = []
    for _ in range(4):
        forwarded = run_forward(s)
        assert forwarded.forward is not None
        assert forwarded.forward.loss is not None
        losses.append(forwarded.forward.loss)
        s = run_update(run_backward(forwarded))
    assert s.loss_history == tuple(losses)
    assert tuple(s.history.losses().tolist()) == tuple(losses)
    assert [h.loss for h in s.history.snapshots()] == [None, *losses]
    assert losses[-1] < losses[0]  # it learns


def test_step_counter_counts_updates_only() -> None:
    s = create("c")
    s = run_forward(s)
    assert s.step == 0
    s = run_backward(s)
    assert s.step == 0
    s = run_update(s)
    assert s.step == 1
    s = run_forward(s)
    assert s.step == 1
    assert stepped(s, 3).step == 4


def test_a_diverging_update_raises_and_changes_nothing() -> None:
    s = create(
        "d",
        layers=[1, 1],
        activation="linear",
        output_activation="linear",
        input=[1000.0],
        target=[0.0],
        learning_rate=100.0,
        weights=[[[1.0]]],
        biases=[[0.0]],
    )
    backwarded = run_backward(run_forward(s))
    with pytest.raises(DivergenceError, match="diverged"):
        run_update(backwarded)
    assert backwarded.phase == "backward"
    assert backwarded.step == 0
    assert_arrays_equal(backwarded.params.weights[0], np.array([[1.0]]), "w")


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7])
def test_train_single_sample_equals_single_steps(n: int) -> None:
    s = create("t", seed=11)
    assert_sessions_equal(train(s, n), stepped(s, n))


def test_train_dataset_sgd_equals_single_steps_in_sample_order() -> None:
    s = create("x", dataset="xor", seed=3)
    trained = train(s, 3)
    by_steps = stepped(s, 12)
    assert trained.step == 12
    assert_sessions_equal(trained, by_steps)
    # One sample per step, in order; the last update used sample 3.
    assert [h.sample_index for h in trained.history.snapshots()] == [0, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]
    assert trained.sample_index == 3
    assert trained.phase == "updated"
    # The forward after an update moves on (wrapping round).
    assert run_forward(trained).sample_index == 0
    assert run_forward(run_forward(trained)).sample_index == 0
    # Within a cycle the sample stays put; it advances only on the forward after an update.
    one = run_step(s)
    assert one.sample_index == 0
    assert run_forward(one).sample_index == 1
    assert run_substep(one).sample_index == 1
    # Each loss is that of its own sample alone.
    single = create("one", layers=[2, 3, 1], input=[0.0, 1.0], target=[1.0], seed=3)
    params = stepped(s, 1).params
    single = edit(
        single, weights=[w.tolist() for w in params.weights], biases=[b.tolist() for b in params.biases]
    )
    assert run_forward(single).forward.loss == by_steps.loss_history[1]  # type: ignore[union-attr]


def test_train_from_mid_cycle_equals_single_steps() -> None:
    """From an updated session (next forward advances) and from a partial forward."""
    s = stepped(create("x", dataset="xor", seed=1), 2)
    assert_sessions_equal(train(s, 2), stepped(s, 8))
    partial = run_substep(s)
    assert partial.phase == "forwarding"
    assert_sessions_equal(train(partial, 1), stepped(partial, 4))


def test_train_batch_mode_equals_single_steps() -> None:
    s = create("b", dataset="xor", mode="batch", seed=3)
    trained = train(s, 5)
    assert trained.step == 5
    assert trained.sample_index == 0
    assert_sessions_equal(trained, stepped(s, 5))
    assert [h.sample_index for h in trained.history.snapshots()] == [0] * 6


def test_run_steps_of_zero_is_the_session_itself() -> None:
    s = create("z")
    assert run_steps(s, 0) is s


@pytest.mark.parametrize("epochs", [0, -1, MAX_TRAIN_EPOCHS + 1])
def test_train_refuses_epochs_out_of_range(epochs: int) -> None:
    with pytest.raises(InvalidInputError, match=r"epochs: must lie in 1\.\.100000"):
        train(create("e"), epochs)


def test_train_refuses_too_many_steps() -> None:
    s = create("blobs", dataset="blobs")  # 24 samples per epoch in SGD mode
    epochs = MAX_TRAIN_STEPS // 24 + 1
    with pytest.raises(InvalidInputError, match=f"at most {MAX_TRAIN_STEPS}"):
        train(s, epochs)


def test_divergence_during_train_leaves_the_session_unchanged() -> None:
    # y = w + b is multiplied by −5 each step: beyond ±1e6 after about ten steps.
    s = create(
        "d",
        layers=[1, 1],
        activation="linear",
        output_activation="linear",
        input=[1.0],
        target=[0.0],
        learning_rate=3.0,
        weights=[[[1.0]]],
        biases=[[0.0]],
    )
    s = run_step(s)
    before_w = s.params.weights[0].copy()
    before_history = s.history
    with pytest.raises(DivergenceError):
        train(s, 50)
    assert s.step == 1
    assert s.phase == "updated"
    assert s.history is before_history
    assert_arrays_equal(s.params.weights[0], before_w, "w")
    assert s.loss_history == (0.5,)
    # It really did get some way first: five more steps are fine.
    assert train(s, 5).step == 6


# --------------------------------------------------------------------------------------------
# Sub-steps
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [[2, 3, 2], [2, 4, 3, 2], [2, 2]])
def test_substeps_walk_the_cycle(layers: list[int]) -> None:
    s = create("s", layers=layers, seed=9)
    depth = len(layers) - 1
    total = 2 * depth + 2
    assert substep_position(s).total == total
    forwarding: list[Phase] = ["forwarding"] * depth
    backwarding: list[Phase] = ["backwarding"] * (depth - 1)
    expected_phases: list[Phase] = [*forwarding, "forward", *backwarding, "backward", "updated"]
    pos = substep_position(s)
    assert (pos.done, pos.total, pos.next) == (0, total, "forward: layer 1 (a(1), h(1))")
    for k, phase in enumerate(expected_phases, start=1):
        s = run_substep(s)
        assert s.phase == phase, f"sub-step {k}"
        pos = substep_position(s)
        assert pos.total == total
        assert pos.done == (k if k < total else 0), f"sub-step {k}"
        assert pos.next == describe_substep(s.arch, pos.done)
        if phase == "forwarding":
            assert s.forward is not None
            assert s.forward.layers_done == k
        if phase in ("backwarding", "backward"):
            assert s.backward is not None
            assert s.backward.layers_done == k - depth - 1
    assert s.step == 1


def test_substep_descriptions_for_depth_two() -> None:
    arch = Architecture()
    assert [describe_substep(arch, k) for k in range(6)] == [
        "forward: layer 1 (a(1), h(1))",
        "forward: layer 2 (a(2), h(2))",
        "forward: the loss L",
        "backward: δ(2) of the output layer and its gradients",
        "backward: δ(1) of the hidden layer and its gradients",
        "update: w ← w − η ∂L/∂w",
    ]


@pytest.mark.parametrize(
    ("layers", "dataset", "mode"), [([2, 4, 3, 2], None, "sgd"), (None, "xor", "sgd"), (None, "xor", "batch")]
)
def test_a_full_substep_cycle_is_bit_identical_to_run_step(
    layers: list[int] | None, dataset: str | None, mode: str
) -> None:
    s = create("s", layers=layers, dataset=dataset, mode=mode, seed=12)  # type: ignore[arg-type]
    by_sub, by_step = s, s
    total = substep_position(s).total
    for _ in range(3):
        for _ in range(total):
            by_sub = run_substep(by_sub)
        by_step = run_step(by_step)
        assert_sessions_equal(by_sub, by_step)


def test_intermediate_substeps_match_the_coarse_traces() -> None:
    s = create("s", layers=[2, 4, 3, 2], seed=2)
    coarse_fwd = run_forward(s)
    coarse_bwd = run_backward(coarse_fwd)
    sub = run_substep(s)
    assert sub.forward is not None
    assert coarse_fwd.forward is not None
    assert_arrays_equal(sub.forward.pre_activations[0], coarse_fwd.forward.pre_activations[0], "a1")
    assert sub.forward.pre_activations[1] is None
    assert sub.forward.sample_losses is None
    sub = run_substep(run_substep(run_substep(sub)))
    assert sub.phase == "forward"
    assert_forward_equal(sub.forward, coarse_fwd.forward)
    sub = run_substep(sub)
    assert sub.backward is not None
    assert coarse_bwd.backward is not None
    assert_arrays_equal(sub.backward.deltas[2], coarse_bwd.backward.deltas[2], "δ3")
    assert sub.backward.deltas[1] is None


# --------------------------------------------------------------------------------------------
# Undo, restore and the history
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5])
def test_undo_after_k_steps_equals_k_minus_one_steps(k: int) -> None:
    s = create("u", dataset="xor", seed=6)
    undone = undo(stepped(s, k))
    assert_same_state(undone, stepped(s, k - 1))


def test_undo_single_sample_and_down_to_the_start() -> None:
    s = create("u", seed=1)
    current = stepped(s, 3)
    for k in (2, 1, 0):
        current = undo(current)
        assert_same_state(current, stepped(s, k))
    assert current.phase == "idle"
    with pytest.raises(PhaseError, match="nothing to undo"):
        undo(current)


def test_undo_at_step_zero_raises() -> None:
    with pytest.raises(PhaseError, match="nothing to undo"):
        undo(create("u"))
    # Still at step 0 in the middle of a cycle.
    with pytest.raises(PhaseError, match="nothing to undo"):
        undo(run_backward(run_forward(create("u"))))


def test_restore_equals_a_fresh_session_and_later_states_stay_restorable() -> None:
    s = create("r", dataset="xor", seed=8)
    latest = stepped(s, 6)
    for k in (3, 0, 6, 1, 5):
        latest = restore(latest, k)
        assert_same_state(latest, stepped(s, k))
        assert tuple(latest.history.losses().tolist()) == tuple(stepped(s, 6).history.losses().tolist())
    assert [h.step for h in latest.history.snapshots()] == list(range(7))


def test_restore_refuses_a_step_that_is_not_kept() -> None:
    s = stepped(create("r"), 2)
    with pytest.raises(NotKeptError, match="step 3 is not kept"):
        restore(s, 3)
    with pytest.raises(NotKeptError):
        restore(s, -1)


def test_an_update_after_a_restore_drops_the_later_states() -> None:
    s = create("r", seed=3)
    later = restore(stepped(s, 5), 2)
    branched = run_step(edit(later, learning_rate=2.0))
    assert branched.step == 3
    assert [h.step for h in branched.history.snapshots()] == [0, 1, 2, 3]
    assert len(tuple(branched.history.losses().tolist())) == 3
    assert tuple(branched.history.losses().tolist())[:2] == tuple(stepped(s, 5).history.losses().tolist())[:2]
    assert not np.array_equal(branched.params.weights[0], stepped(s, 3).params.weights[0])
    with pytest.raises(NotKeptError):
        restore(branched, 4)
    # Sub-step updates drop the future too.
    sub = later
    for _ in range(6):
        sub = run_substep(sub)
    assert [h.step for h in sub.history.snapshots()] == [0, 1, 2, 3]
    assert len(tuple(sub.history.losses().tolist())) == 3


def check_history_invariants(s: Session) -> None:
    steps = [h.step for h in s.history.snapshots()]
    assert len(steps) <= MAX_HISTORY
    assert steps[0] == 0
    assert all(a < b for a, b in itertools.pairwise(steps))
    newest = list(range(max(0, s.step - 499), s.step + 1))
    assert steps[-len(newest) :] == newest
    assert len(s.loss_history) == s.step


def test_history_thinning_single_steps() -> None:
    s = create("h", seed=2)
    lengths = []
    for _ in range(1300):
        s = run_step(s)
        check_history_invariants(s)
        lengths.append(len(s.history.snapshots()))
    assert max(lengths) == MAX_HISTORY
    assert lengths[998] == MAX_HISTORY  # 1000 entries after step 999
    assert lengths[999] < MAX_HISTORY  # thinned at step 1000


def test_history_thinning_in_train_keeps_restorable_states() -> None:
    s = create("h", seed=2)
    trained = train(s, 2500)
    check_history_invariants(trained)
    steps = [h.step for h in trained.history.snapshots()]
    dropped = next(k for k in range(1, 2500) if k not in steps)
    with pytest.raises(NotKeptError):
        restore(trained, dropped)
    thinned_kept = steps[len(steps) // 4]  # a kept state from the thinned middle
    assert 0 < thinned_kept < 2000
    assert_same_state(restore(trained, thinned_kept), train(s, thinned_kept))
    # A single-step run and train thin the same way.
    assert_sessions_equal(trained, stepped(s, 2500))


# --------------------------------------------------------------------------------------------
# Reset and edits
# --------------------------------------------------------------------------------------------


def test_reset_returns_to_the_creation_state() -> None:
    s = create("r", dataset="xor", seed=4, learning_rate=0.7)
    changed = stepped(s, 5)
    changed = edit(changed, learning_rate=3.0, dataset="or", sample_index=2, mode="batch")
    changed = run_forward(edit(changed, weights=[[[0.0] * 3] * 2, [[0.0]] * 3]))
    back = reset(changed)
    assert_sessions_equal(back, s)
    assert back.step == 0
    assert back.loss_history == ()
    assert len(back.history.snapshots()) == 1
    assert back.config.learning_rate == 0.7
    assert back.config.mode == "sgd"
    assert back.data.name == "xor"


def test_edit_clears_traces_and_returns_to_idle() -> None:
    for phase in PHASES:
        s = in_phase(phase)
        edited = edit(s, learning_rate=0.25)
        assert edited.phase == "idle"
        assert edited.forward is None
        assert edited.backward is None
        assert edited.previous is None
        assert edited.config.learning_rate == 0.25
        assert edited.step == s.step
        assert edited.history is s.history
        assert_params_equal(edited.params, s.params)


def test_edit_of_the_weights_starts_a_new_history_branch() -> None:
    s = create("w", seed=5)
    five = stepped(s, 5)
    back = restore(five, 2)
    new_weights = [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]]
    edited = edit(back, weights=new_weights)
    assert [h.step for h in edited.history.snapshots()] == [0, 1, 2]
    assert edited.loss_history == five.loss_history[:2]
    assert tuple(edited.history.losses().tolist()) == tuple(five.history.losses().tolist())[:2]
    assert edited.history.snapshots()[-1].loss is None
    assert edited.history.snapshots()[-1].previous is None
    assert_arrays_equal(edited.history.snapshots()[-1].params.weights[0], np.array(new_weights[0]), "w0")
    assert_array_tuples_equal(edited.params.biases, five.history.snapshots()[2].params.biases, "biases")
    with pytest.raises(NotKeptError):
        restore(edited, 3)
    # Undo goes to the state before the edit branch; restore(2) is the edited state.
    assert_same_state(undo(edited), stepped(s, 1))
    again = restore(undo(edited), 2)
    assert again.phase == "idle"
    assert_params_equal(again.params, edited.params)
    # Stepping on from the edit continues the new branch.
    on = run_step(edited)
    assert on.step == 3
    assert [h.step for h in on.history.snapshots()] == [0, 1, 2, 3]


def test_edit_of_the_input_with_a_dataset_replaces_the_current_row() -> None:
    s = edit(create("x", dataset="xor"), sample_index=2)
    edited = edit(s, input=[0.5, 0.25], target=[0.75])
    assert edited.sample_index == 2
    assert edited.input == [0.5, 0.25]
    assert edited.target == [0.75]
    expected_inputs = np.array([[0.0, 0.0], [0.0, 1.0], [0.5, 0.25], [1.0, 1.0]])
    assert_arrays_equal(edited.data.inputs, expected_inputs, "inputs")
    assert_arrays_equal(edited.data.targets, np.array([[0.0], [1.0], [0.75], [0.0]]), "targets")
    assert edited.data.name is None  # no longer the built-in
    assert builtin("xor").inputs[2].tolist() == [1.0, 0.0]  # the built-in itself is untouched
    with pytest.raises(InvalidInputError):
        edit(s, input=[0.5, 0.25, 1.0])


def test_edit_of_the_single_input() -> None:
    s = edit(run_step(create("i")), input=[0.3, -0.2])
    assert s.input == [0.3, -0.2]
    assert s.target == [0.01, 0.99]
    assert len(s.data) == 1
    with pytest.raises(InvalidInputError, match="2 inputs"):
        edit(s, input=[0.3])


@pytest.mark.parametrize("rate", [0.0, -0.5, 100.0001, float("nan"), float("inf")])
def test_edit_refuses_a_learning_rate_out_of_range(rate: float) -> None:
    with pytest.raises(InvalidInputError, match="learning_rate"):
        edit(create("l"), learning_rate=rate)


def test_edit_accepts_the_learning_rate_bounds() -> None:
    assert edit(create("l"), learning_rate=100.0).config.learning_rate == 100.0
    assert edit(create("l"), learning_rate=1e-9).config.learning_rate == 1e-9


@pytest.mark.parametrize("index", [-1, 4, 100])
def test_edit_refuses_a_sample_index_out_of_range(index: int) -> None:
    with pytest.raises(InvalidInputError, match=r"sample_index: must lie in 0\.\.3"):
        edit(create("x", dataset="xor"), sample_index=index)


def test_edit_sample_index_and_dataset() -> None:
    s = edit(create("x", dataset="xor"), sample_index=3)
    assert s.sample_index == 3
    assert s.input == [1.0, 1.0]
    assert run_forward(s).sample_index == 3  # idle: no advance
    switched = edit(s, dataset="and")
    assert switched.sample_index == 0
    assert switched.data.name == "and"
    with pytest.raises(InvalidInputError, match="outputs"):
        edit(create("d"), dataset="xor")  # 2-3-2 cannot take one target value
    with pytest.raises(InvalidInputError, match="mode"):
        edit(s, mode="online")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Batch mode
# --------------------------------------------------------------------------------------------


def test_batch_gradients_are_the_mean_over_samples() -> None:
    s = create("b", dataset="xor", mode="batch", seed=13)
    batch = run_backward(run_forward(s))
    assert batch.backward is not None
    assert batch.forward is not None
    per_sample = []
    for x, t in zip(s.data.inputs, s.data.targets, strict=True):
        one = create("one", layers=[2, 3, 1], input=x.tolist(), target=t.tolist(), seed=13)
        per_sample.append(run_backward(run_forward(one)))
    for l in range(2):
        mean_w = np.mean([p.backward.weight_gradient(l) for p in per_sample if p.backward], axis=0)
        mean_b = np.mean([p.backward.bias_gradient(l) for p in per_sample if p.backward], axis=0)
        np.testing.assert_allclose(batch.backward.weight_gradient(l), mean_w, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(batch.backward.bias_gradient(l), mean_b, rtol=RTOL, atol=ATOL)
    mean_loss = np.mean([p.forward.loss for p in per_sample if p.forward])
    assert batch.forward.loss == pytest.approx(mean_loss, rel=1e-14)
    # The traces hold every sample; the displayed row is the current sample.
    assert batch.forward.activation(2).shape == (4, 1)
    assert edit(s, sample_index=2).display_row == 2
    updated = run_update(batch)
    assert updated.loss_history == (batch.forward.loss,)


def test_replay_rebuilds_the_traces_bit_for_bit() -> None:
    s = create("r", layers=[2, 4, 3, 2], seed=3)
    for k in range(20):
        stripped = Session(
            id=s.id,
            config=s.config,
            params=s.params,
            data=s.data,
            origin=s.origin,
            sample_index=s.sample_index,
            phase=s.phase,
            previous=s.previous,
            step=s.step,
            history=s.history,
            recent_losses=s.recent_losses,
        )
        assert_sessions_equal(replay(stripped, progress_of(s)), s)
        s = run_substep(s)
        assert k < 19 or s.step == 2


def test_the_engine_reference_agrees_with_a_session_step() -> None:
    s = create("e", seed=21)
    new, loss = engine.train_step(s.arch, s.params, s.data.inputs, s.data.targets, 0.5)
    after = run_step(s)
    assert_params_equal(after.params, new)
    assert after.loss_history == (loss,)


@pytest.mark.parametrize("dataset", ["xor", "blobs", "circle"])
@pytest.mark.parametrize("mode", ["batch", "sgd"])
def test_dataset_gradients_match_finite_differences(dataset: str, mode: str) -> None:
    """Batch: the gradient of the mean loss over every sample; SGD: of the current sample's loss.

    Oracle: central differences of the same mean loss (engine.numerical_gradients, ε = 1e-6),
    agreeing to 1e-7 relative (plus 1e-9 absolute): truncation O(ε²) and rounding O(1e-16/ε)."""
    s = session.create("fd", dataset=dataset, layers=[2, 4, 1], mode=mode)  # type: ignore[arg-type]
    s = session.edit(s, sample_index=2)
    s = session.run_backward(session.run_forward(s))
    assert s.backward is not None
    if mode == "batch":
        inputs, targets = s.data.inputs, s.data.targets
    else:
        inputs, targets = s.data.inputs[2:3], s.data.targets[2:3]
    weights, biases = engine.numerical_gradients(s.arch, s.params, inputs, targets)
    for l in range(s.arch.depth):
        np.testing.assert_allclose(s.backward.weight_gradient(l), weights[l], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(s.backward.bias_gradient(l), biases[l], rtol=1e-7, atol=1e-9)
    assert max(float(np.abs(g).max()) for g in weights) > 1e-4  # not trivially zero
