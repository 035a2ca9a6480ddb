"""What the last (sub-)step computed and what the numbers on show are (app/focus.py)."""

from __future__ import annotations

from app import session
from app.focus import STALE_NOTE, focus_of, notes_of


def test_substeps_highlight_exactly_what_they_computed() -> None:
    s = session.create("d")
    seen = []
    for _ in range(6):
        s = session.run_substep(s)
        focus = focus_of(s)
        seen.append((s.phase, sorted(focus.node_layers), sorted(focus.edge_layers), focus.targets))
    assert seen == [
        ("forwarding", [1], [0], False),
        ("forwarding", [2], [1], False),
        ("forward", [2], [], True),
        ("backwarding", [2], [1], False),
        ("backward", [1], [0], False),
        ("updated", [], [0, 1], False),
    ]
    coarse = focus_of(session.run_backward(session.run_forward(session.create("d"))))
    assert not coarse.node_layers and not coarse.edge_layers
    assert coarse.caption == "Backward pass done: every δ and every gradient."


def test_notes_say_what_the_numbers_are() -> None:
    fresh = session.create("d")
    assert notes_of(fresh) == ()
    assert notes_of(session.run_step(fresh)) == (STALE_NOTE,)
    batch = session.run_forward(
        session.edit(session.create("d", dataset="xor", mode="batch"), sample_index=1)
    )
    assert notes_of(batch) == (
        "Batch of 4: units show sample 2 (x = 0, 1); the loss and gradients are means over all 4.",
    )
    # SGD over a dataset draws the one sample it steps: nothing to say
    assert notes_of(session.run_forward(session.create("d", dataset="xor", mode="sgd"))) == ()
