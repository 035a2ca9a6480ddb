"""Session documents (app/codec.py): exact round trips, and refusal of every kind of bad document."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app import codec
from app.errors import InvalidInputError, NotASessionDocumentError
from app.limits import MAX_HISTORY, MAX_LOSS_HISTORY
from app.session import (
    Session,
    create,
    edit,
    restore,
    run_forward,
    run_step,
    run_substep,
    train,
    undo,
)
from tests.test_session import assert_sessions_equal, stepped

Document = dict[str, Any]


def through_json(document: Document) -> Document:
    """What a file or the database gives back: strict JSON (no NaN) text, parsed again."""
    parsed: Document = json.loads(json.dumps(document, allow_nan=False))
    return parsed


def round_trip(session: Session, compact: bool) -> Session:
    return codec.from_document(through_json(codec.to_document(session, compact=compact)), session.id)


def substep_states(session: Session, count: int) -> list[Session]:
    """The session and each of the next ``count`` sub-steps."""
    states = [session]
    for _ in range(count):
        states.append(run_substep(states[-1]))
    return states


def sessions_to_round_trip() -> list[tuple[str, Session]]:
    cases: list[tuple[str, Session]] = []
    # Every phase and every partial sub-step of two cycles (depth 3: 8 sub-steps a cycle), SGD over
    # xor so the second cycle is on the next sample.
    deep = create("deep", layers=[2, 4, 3, 1], dataset="xor", seed=5)
    for k, state in enumerate(substep_states(deep, 16)):
        cases.append((f"sgd-substep-{k}-{state.phase}", state))
    batch = create("batch", dataset="xor", mode="batch", seed=6, learning_rate=1.5)
    for k, state in enumerate(substep_states(stepped(batch, 2), 6)):
        cases.append((f"batch-substep-{k}-{state.phase}", state))
    single = create(
        "single",
        activation="tanh",
        output_activation="sigmoid",
        loss="bce",
        train_biases=False,
        learning_rate=0.1,
        seed=42,
        input=[0.3, -0.7],
        target=[1.0, 0.0],
    )
    cases.append(("single-idle", single))
    cases.append(("single-forward", run_forward(single)))
    cases.append(("single-updated", stepped(single, 3)))
    cases.append(("relu-linear-l2", stepped(create("r", activation="relu", output_activation="linear"), 2)))
    five = stepped(create("restored", dataset="or", seed=2), 5)
    cases.append(("restored-with-future", restore(five, 2)))
    cases.append(("undone", undo(five)))
    cases.append(("restored-to-start", restore(five, 0)))
    cases.append(("edited-weights", edit(five, weights=[[[0.5] * 3] * 2, [[-0.5]] * 3])))
    cases.append(("edited-input", run_forward(edit(five, input=[0.25, 0.75], sample_index=3))))
    cases.append(("edited-dataset", edit(five, dataset="and", mode="batch", learning_rate=7.0)))
    cases.append(("thinned", train(create("thin", seed=3), 1200)))
    cases.append(("thinned-mid-cycle", run_substep(run_substep(train(create("thin", seed=3), 1500)))))
    return cases


CASES = sessions_to_round_trip()


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "plain"])
@pytest.mark.parametrize("session", [s for _, s in CASES], ids=[name for name, _ in CASES])
def test_round_trip_is_exact(session: Session, compact: bool) -> None:
    back = round_trip(session, compact)
    assert_sessions_equal(back, session)
    # Writing it out again gives the same document.
    assert codec.to_document(back, compact=compact) == codec.to_document(session, compact=compact)


def test_thinned_history_survives_the_round_trip() -> None:
    session = dict(CASES)["thinned"]
    assert session.step == 1200
    assert len(session.history.snapshots()) < MAX_HISTORY
    assert session.history.snapshots()[0].step == 0
    back = round_trip(session, compact=True)
    assert [h.step for h in back.history.snapshots()] == [h.step for h in session.history.snapshots()]
    assert len(back.loss_history) == 1200
    assert_sessions_equal(
        restore(back, session.history.snapshots()[3].step),
        restore(session, session.history.snapshots()[3].step),
    )
    # ... and it keeps on training exactly as the original does.
    assert_sessions_equal(train(back, 3), train(session, 3))


def test_a_restored_session_keeps_working_like_the_original() -> None:
    session = dict(CASES)["restored-with-future"]
    back = round_trip(session, compact=False)
    assert back.step == 2
    assert len(tuple(back.history.losses().tolist())) == 5
    assert_sessions_equal(restore(back, 5), restore(session, 5))
    assert_sessions_equal(run_step(back), run_step(session))


def test_partial_substeps_continue_exactly() -> None:
    partial = [s for _, s in CASES if s.phase in ("forwarding", "backwarding")]
    assert len(partial) >= 6
    for session in partial:
        back = round_trip(session, compact=True)
        assert_sessions_equal(run_substep(back), run_substep(session))


def test_document_layout() -> None:
    session = stepped(create("lay", dataset="xor"), 2)
    plain = codec.to_document(session)
    compact = codec.to_document(session, compact=True)
    for document in (plain, compact):
        assert document["format"] == "backprop-viz.session"
        assert document["version"] == 1
        assert document["phase"] == "updated"
        assert document["step"] == 2
        assert document["sample_index"] == 1
        assert document["config"] == {
            "layers": [2, 3, 1],
            "activation": "sigmoid",
            "output_activation": "sigmoid",
            "loss": "l2",
            "learning_rate": 0.5,
            "train_biases": True,
            "seed": 0,
            "mode": "sgd",
        }
        assert document["dataset"]["name"] == "xor"
        assert "forward" not in document
        assert "backward" not in document
    # Plain: numbers; compact: base64 of little-endian float64.
    assert plain["loss_trajectory"] == list(session.history.losses().tolist())
    assert [h["step"] for h in plain["history"]] == [0, 1, 2]
    packed = np.frombuffer(base64.b64decode(compact["loss_trajectory"]), dtype="<f8")
    assert packed.tolist() == list(session.history.losses().tolist())
    assert compact["history"]["steps"] == [0, 1, 2]
    assert compact["history"]["has_previous"] == [False, True, True]
    assert compact["history"]["losses"] == [None, *tuple(session.history.losses().tolist())]


def test_plain_and_compact_give_the_same_session() -> None:
    session = dict(CASES)["sgd-substep-13-backwarding"]
    assert_sessions_equal(round_trip(session, True), round_trip(session, False))


def test_a_document_gets_the_id_it_is_loaded_under() -> None:
    session = stepped(create("old"), 1)
    back = codec.from_document(codec.to_document(session), "new")
    assert back.id == "new"


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------

Mutation = Callable[[Document], None]


def base_session() -> Session:
    """xor, SGD, at step 3 with a kept future (step 4), in phase updated."""
    return restore(stepped(create("base", dataset="xor", seed=1), 4), 3)


def setter(*path: str | int, value: Any) -> Mutation:
    def mutate(document: Document) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def deleter(*path: str | int) -> Mutation:
    def mutate(document: Document) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def phase_without_layers(phase: str, key: str) -> Mutation:
    def mutate(document: Document) -> None:
        document["phase"] = phase
        document["progress"][key] = 0

    return mutate


def too_long_history(document: Document) -> None:
    entry = document["history"][-1]
    document["history"] = [{**entry, "step": k} for k in range(MAX_HISTORY + 1)]


def swap_history(document: Document) -> None:
    history = document["history"]
    history[1], history[2] = history[2], history[1]


def duplicate_history_step(document: Document) -> None:
    document["history"][2]["step"] = document["history"][1]["step"]


def packed(values: list[float]) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def pack_nan_into_values(document: Document) -> None:
    values = np.frombuffer(base64.b64decode(document["history"]["values"]), dtype="<f8").copy()
    values[5] = np.nan
    document["history"]["values"] = packed(values.tolist())


def truncate_values(document: Document) -> None:
    """One float short: the last kept state's parameters are incomplete."""
    raw = base64.b64decode(document["history"]["values"])
    document["history"]["values"] = base64.b64encode(raw[:-8]).decode("ascii")


def extra_values(document: Document) -> None:
    """Numbers left over after the last kept state."""
    raw = base64.b64decode(document["history"]["values"])
    document["history"]["values"] = base64.b64encode(raw + raw[:8]).decode("ascii")


def origin_other_layers(document: Document) -> None:
    document["origin"]["config"]["layers"] = [2, 2, 1]
    document["origin"]["params"] = {
        "weights": [[[0.0, 0.0], [0.0, 0.0]], [[0.0], [0.0]]],
        "biases": [[0.0, 0.0], [0.0]],
    }


def dataset_too_wide(document: Document) -> None:
    document["dataset"]["inputs"] = [[0.0, 0.0, 0.0]] * 4


# (id, compact document?, mutation, the message it must raise)
REFUSALS: list[tuple[str, bool, Mutation, str]] = [
    ("format-wrong", False, setter("format", value="something.else"), "not a session document"),
    ("format-missing", False, deleter("format"), "not a session document"),
    ("version-2", False, setter("version", value=2), "unsupported document version 2"),
    ("version-missing", False, deleter("version"), "unsupported document version None"),
    ("config-missing", False, deleter("config"), "missing field 'config'"),
    ("params-missing", False, deleter("params"), "missing field 'params'"),
    ("step-missing", False, deleter("step"), "missing field 'step'"),
    ("history-missing", True, deleter("history"), "missing field 'history'"),
    ("dataset-missing", False, deleter("dataset"), "missing field 'dataset'"),
    ("origin-missing", False, deleter("origin"), "missing field 'origin'"),
    ("weights-wrong-shape", False, setter("params", "weights", 0, value=[[0.1, 0.2, 0.3]]), r"weights\[0\]"),
    (
        "weights-one-matrix",
        False,
        setter("params", "weights", value=[[[0.1] * 3] * 2]),
        "expected 2 matrices",
    ),
    ("biases-wrong-length", False, setter("params", "biases", 1, value=[0.1, 0.2]), r"biases\[1\]"),
    ("weights-nan", False, setter("params", "weights", 1, 2, 0, value=float("nan")), "finite"),
    ("biases-inf", False, setter("params", "biases", 0, 1, value=float("inf")), "finite"),
    ("weights-huge", False, setter("params", "weights", 0, 0, 0, value=2e6), "within"),
    ("previous-nan", False, setter("previous", "weights", 0, 0, 0, value=float("nan")), "finite"),
    (
        "history-params-nan",
        False,
        setter("history", 1, "params", "biases", 0, 0, value=float("nan")),
        "finite",
    ),
    (
        "origin-params-nan",
        False,
        setter("origin", "params", "weights", 0, 0, 0, value=float("nan")),
        "finite",
    ),
    ("dataset-nan", False, setter("dataset", "inputs", 1, 0, value=float("nan")), "finite"),
    ("dataset-ragged", False, setter("dataset", "inputs", 1, value=[0.0]), "same, non-zero number"),
    ("dataset-too-wide", False, dataset_too_wide, "dataset: samples do not fit layers"),
    ("origin-other-arch", False, origin_other_layers, "origin: its architecture differs"),
    ("loss-nan", False, setter("loss_trajectory", 0, value=float("nan")), "loss_trajectory: every loss"),
    (
        "loss-nan-compact",
        True,
        setter("loss_trajectory", value=packed([0.1, float("nan"), 0.1, 0.1])),
        "finite",
    ),
    ("step-too-large", False, setter("step", value=5), "step: larger than the number of recorded losses"),
    ("step-negative", False, setter("step", value=-1), "step: larger"),
    ("sample-index-too-large", False, setter("sample_index", value=4), r"sample_index: must lie in 0\.\.3"),
    ("sample-index-negative", False, setter("sample_index", value=-1), r"sample_index: must lie in 0\.\.3"),
    ("phase-unknown", False, setter("phase", value="thinking"), "phase: must be one of"),
    ("phase-missing", False, deleter("phase"), "missing field 'phase'"),
    ("updated-without-previous", False, setter("previous", value=None), "needs the parameters before"),
    ("history-out-of-order", False, swap_history, "increasing step order"),
    ("history-duplicate-step", False, duplicate_history_step, "increasing step order"),
    (
        "history-out-of-order-compact",
        True,
        setter("history", "steps", value=[0, 2, 1, 3, 4]),
        "increasing step",
    ),
    ("history-too-long", False, too_long_history, f"at most {MAX_HISTORY} states"),
    (
        "history-lengths-differ",
        True,
        setter("history", "steps", value=[0, 1, 2, 3, 4, 5]),
        "history|not a valid",
    ),
    ("history-values-nan", True, pack_nan_into_values, "finite"),
    # A packed history must hold exactly the numbers its states need (unflatten checks no length).
    ("history-values-truncated", True, truncate_values, "history|not a valid session document"),
    ("history-values-extra", True, extra_values, "history|not a valid session document"),
    ("progress-too-far", False, setter("progress", "forward_layers", value=3), "progress: layer counts"),
    (
        "forwarding-no-layer",
        False,
        phase_without_layers("forwarding", "forward_layers"),
        "at least one layer",
    ),
    ("backwarding-no-layer", False, phase_without_layers("backwarding", "backward_layers"), "at least one"),
    ("learning-rate-zero", False, setter("config", "learning_rate", value=0.0), "learning_rate"),
    ("learning-rate-nan", False, setter("config", "learning_rate", value=float("nan")), "learning_rate"),
    ("activation-unknown", False, setter("config", "activation", value="swish"), "unknown activation"),
    ("mode-unknown", False, setter("config", "mode", value="online"), "mode: must be one of"),
    ("layers-too-many-units", False, setter("config", "layers", value=[2, 9, 1]), r"layers\[1\]"),
    ("garbage-base64-losses", True, setter("loss_trajectory", value="not base64!!"), "not a valid session"),
    ("garbage-base64-values", True, setter("history", "values", value="@@@@"), "not a valid session"),
    ("non-ascii-base64", True, setter("loss_trajectory", value="ünïcode"), "not a valid session"),
    ("base64-not-8-bytes", True, setter("loss_trajectory", value="AAAAAAAAAA=="), "multiple of 8"),
    (
        "weights-not-numbers",
        False,
        setter("params", "weights", 0, 0, value=["a", "b", "c"]),
        "weights: must be a number",
    ),
    # Strict types: nothing is coerced (a bool is not a number, a float not a whole number).
    (
        "train-biases-string",
        False,
        setter("config", "train_biases", value="no"),
        "train_biases: must be true or false",
    ),
    ("step-fraction", False, setter("step", value=1.5), "step: must be a whole number"),
    ("step-bool", False, setter("step", value=True), "step: must be a whole number"),
    (
        "learning-rate-bool",
        False,
        setter("config", "learning_rate", value=True),
        "learning_rate: must be a number",
    ),
    (
        "learning-rate-string",
        False,
        setter("config", "learning_rate", value="0.5"),
        "learning_rate: must be a number",
    ),
    ("seed-fraction", False, setter("config", "seed", value=0.5), "seed: must be a whole number"),
    (
        "layers-strings",
        False,
        setter("config", "layers", value=["2", "3", "2"]),
        "layers: must be a whole number",
    ),
    ("bias-bool", False, setter("params", "biases", 0, 0, value=True), "biases: must be a number"),
    (
        "input-string",
        False,
        setter("dataset", "inputs", 0, 0, value="0.05"),
        "dataset.inputs: must be a number",
    ),
    ("loss-string", False, setter("loss_trajectory", 0, value="0.3"), "loss_trajectory: must be a number"),
    ("substep-mode-int", False, setter("substep_mode", value=1), "substep_mode: must be true or false"),
    (
        "history-step-fraction",
        False,
        setter("history", 1, "step", value=1.5),
        "history.step: must be a whole",
    ),
    ("config-not-a-mapping", False, setter("config", value="2-3-1"), "not a valid session document"),
    ("history-not-a-list", False, setter("history", value=7), "not a valid session document"),
    # Python's json reads Infinity and 1e400 as float('inf'): int() of it raises OverflowError.
    ("step-infinite", False, setter("step", value=float("inf")), "step|not a valid session document"),
    ("sample-index-infinite", False, setter("sample_index", value=float("inf")), "sample_index|not a valid"),
    ("seed-infinite", False, setter("config", "seed", value=float("inf")), "seed|not a valid session"),
    # A kept state's loss is shown on the timeline: it must be finite like every other loss.
    ("history-loss-nan", False, setter("history", 2, "loss", value=float("nan")), "loss"),
    ("history-loss-nan-compact", True, setter("history", "losses", 2, value=float("nan")), "loss"),
    # A dataset's name is a string or null, as the documented schema says.
    ("dataset-name-a-number", False, setter("dataset", "name", value=7), "dataset.name: must be a string"),
    ("origin-dataset-name-a-list", False, setter("origin", "dataset", "name", value=[]), "dataset.name"),
    ("history-has-previous-a-number", True, setter("history", "has_previous", 0, value=1), "has_previous"),
    ("history-steps-an-object", True, setter("history", "steps", value={}), "history.steps: must be a list"),
    (
        "history-values-a-number",
        True,
        setter("history", "values", value=0),
        "history.values: must be a string",
    ),
    ("progress-a-list", False, setter("progress", value=[]), "progress: must be an object"),
    ("progress-false", False, setter("progress", value=False), "progress: must be an object"),
    # The parameters before an update are checked even when the phase does not use them.
    ("previous-garbage-when-idle", False, setter("previous", value=5), "not a valid session document"),
    # A kept state past the recorded losses would restore to a step with fewer losses than steps.
    ("history-step-past-losses", False, setter("history", 4, "step", value=9), "history"),
]


@pytest.mark.parametrize(
    ("compact", "mutate", "message"),
    [(compact, mutate, message) for _, compact, mutate, message in REFUSALS],
    ids=[name for name, *_ in REFUSALS],
)
def test_from_document_refuses(compact: bool, mutate: Mutation, message: str) -> None:
    document = codec.to_document(base_session(), compact=compact)
    mutate(document)
    before = json.dumps(document)
    with pytest.raises(InvalidInputError, match=message):
        codec.from_document(document, "bad")
    # The document itself is left as it was.
    assert json.dumps(document) == before


def test_the_base_document_is_accepted() -> None:
    """The refusals above are due to their one mutation: the unmutated documents load."""
    session = base_session()
    for compact in (True, False):
        assert_sessions_equal(
            codec.from_document(codec.to_document(session, compact=compact), "base"), session
        )


def test_too_many_losses_or_kept_states_are_refused_before_they_are_read() -> None:
    """Caps, checked by length first: 2,000,001 losses, 1,001 kept states (as lists and packed)."""
    for compact in (False, True):
        document = codec.to_document(base_session(), compact=compact)
        document["loss_trajectory"] = [0.1] * (MAX_LOSS_HISTORY + 1)
        with pytest.raises(NotASessionDocumentError, match="at most 2000000 losses"):
            codec.from_document(document, "x")
        document = codec.to_document(base_session(), compact=compact)
        document["history"] = (
            {**document["history"], "steps": list(range(1001))}
            if compact
            else [document["history"][0]] * 1001
        )
        with pytest.raises(NotASessionDocumentError, match="at most 1000 states"):
            codec.from_document(document, "x")


@pytest.mark.parametrize("document", [[], None, "text", 42, {}], ids=["list", "none", "str", "int", "empty"])
def test_from_document_refuses_non_documents(document: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"not a (valid )?session document"):
        codec.from_document(document, "bad")


def test_a_refused_document_raises_rather_than_returning_a_partial_session() -> None:
    """Each field removed in turn: every time an InvalidInputError, never a session missing the field."""
    document = codec.to_document(base_session(), compact=True)
    optional = {"progress", "substep_mode"}  # progress: a whole pass; substep_mode: a display hint
    for key in document:
        if key in optional:
            continue
        broken = copy.deepcopy(document)
        del broken[key]
        with pytest.raises(InvalidInputError):
            codec.from_document(broken, "bad")
    for key in document["history"]:
        broken = copy.deepcopy(document)
        del broken["history"][key]
        with pytest.raises(InvalidInputError, match=f"missing field '{key}'"):
            codec.from_document(broken, "bad")


def test_optional_fields_have_safe_defaults() -> None:
    session = base_session()
    document = codec.to_document(session)
    del document["progress"]
    assert_sessions_equal(codec.from_document(document, "base"), session)
    idle = codec.to_document(edit(session, learning_rate=1.0))
    del idle["previous"]
    assert codec.from_document(idle, "i").previous is None
