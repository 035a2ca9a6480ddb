"""Predict before reveal (app/session/reveal.py): what each step hides, revealing, and keeping it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import session
from app.errors import InvalidInputError
from app.session import (
    computed,
    create,
    hidden,
    reveal,
    reveal_all,
    run_backward,
    run_forward,
    run_step,
    run_substep,
    run_update,
    set_predicting,
)
from app.store import MemoryStore, SqliteStore

UNITS_232 = {"unit:1,0", "unit:1,1", "unit:1,2", "unit:2,0", "unit:2,1"}
WEIGHTS_232 = {f"weight:0,{i},{j}" for i in range(2) for j in range(3)} | {
    f"weight:1,{i},{j}" for i in range(3) for j in range(2)
}
BIASES_232 = {"bias:0,0", "bias:0,1", "bias:0,2", "bias:1,0", "bias:1,1"}


def predicting() -> session.Session:
    return set_predicting(create("p"), True)


def test_each_coarse_step_hides_what_it_computed() -> None:
    s = predicting()
    assert hidden(s) == frozenset()  # idle: nothing computed
    s = run_forward(s)
    assert hidden(s) == UNITS_232 | {"loss"}
    s = run_backward(s)
    assert hidden(s) == UNITS_232 | WEIGHTS_232 | BIASES_232  # every δ and every gradient
    s = run_update(s)
    assert hidden(s) == WEIGHTS_232 | BIASES_232  # the new values


def test_each_substep_hides_only_its_part() -> None:
    s = run_substep(predicting())
    assert hidden(s) == {"unit:1,0", "unit:1,1", "unit:1,2"}
    s = run_substep(s)
    assert hidden(s) == {"unit:2,0", "unit:2,1"}
    s = run_substep(s)
    assert hidden(s) == {"loss"}
    s = run_substep(s)  # δ of the output layer and the gradients of the weights into it
    assert hidden(s) == {"unit:2,0", "unit:2,1"} | {
        f"weight:1,{i},{j}" for i in range(3) for j in range(2)
    } | {
        "bias:1,0",
        "bias:1,1",
    }
    s = run_substep(s)
    assert hidden(s) == {"unit:1,0", "unit:1,1", "unit:1,2"} | {
        f"weight:0,{i},{j}" for i in range(2) for j in range(3)
    } | {"bias:0,0", "bias:0,1", "bias:0,2"}


def test_revealing_one_by_one_and_all_at_once() -> None:
    s = run_forward(predicting())
    s = reveal(s, "loss")
    assert hidden(s) == UNITS_232
    s = reveal(s, "unit:2,1")
    assert hidden(s) == UNITS_232 - {"unit:2,1"}
    assert hidden(reveal_all(s)) == frozenset()
    # The next step's numbers start hidden again.
    assert hidden(run_backward(reveal_all(s))) == UNITS_232 | WEIGHTS_232 | BIASES_232


def test_off_hides_nothing_and_refuses_to_reveal() -> None:
    s = run_step(create("p"))
    assert hidden(s) == frozenset()
    with pytest.raises(InvalidInputError, match="off"):
        reveal(s, "loss")
    assert hidden(set_predicting(set_predicting(s, True), False)) == frozenset()


def test_only_what_the_last_step_computed_can_be_revealed() -> None:
    s = run_forward(predicting())
    with pytest.raises(InvalidInputError, match="not a number the last step computed"):
        reveal(s, "weight:0,0,0")
    assert computed(s) == UNITS_232 | {"loss"}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_reveal_state_is_kept_with_the_session(tmp_path: Path, kind: str) -> None:
    store = (
        MemoryStore(ttl=100.0, max_sessions=10)
        if kind == "memory"
        else SqliteStore(tmp_path / "r.sqlite3", ttl=100.0, max_sessions=10)
    )
    store.add(create("p"))
    store.update("p", lambda s: set_predicting(s, True))
    store.update("p", run_forward)
    store.update("p", lambda s: reveal(s, "loss"))
    if isinstance(store, SqliteStore):
        store.close()
        store = SqliteStore(tmp_path / "r.sqlite3", ttl=100.0, max_sessions=10)
    assert hidden(store.get("p")) == UNITS_232
    store.close()
