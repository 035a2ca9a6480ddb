"""The Data tab's view: what the data in use is called, what a network needs, the rows."""

from __future__ import annotations

from app import datasets, engine, session
from app.datasets import builtin, make_dataset
from app.web.views import data
from app.web.views.panel import View


def test_the_data_in_use_in_words() -> None:
    assert data.summary_of(session.create("s").data) == "Single sample (the article's setting)"
    assert data.summary_of(builtin("xor")) == "XOR, 4 samples"
    assert data.summary_of(make_dataset([[0.0], [1.0]], [[1.0], [0.0]])) == "Your own table, 2 samples"


def test_what_a_dataset_needs_and_why_it_does_not_fit() -> None:
    arch = engine.Architecture((2, 3, 2))
    assert data.need(arch, builtin("xor")) == "needs 2 inputs and 1 output"
    assert data.need(engine.Architecture((2, 3, 1)), builtin("xor")) is None
    assert data.misfit(arch, builtin("xor"), "XOR") == (
        "XOR has 2 inputs and 1 target per sample, but this 2-3-2 network has 2 inputs and 2 outputs: "
        "build a 2-…-1 network in the Network tab"
    )


def test_the_rows_mark_the_current_and_the_next_sample() -> None:
    current = session.run_step(session.create("s", dataset="xor", layers=[2, 3, 1]))
    rows = data.rows_of(current)
    assert [(r.index, r.current, r.next) for r in rows] == [
        (0, True, False),
        (1, False, True),
        (2, False, False),
        (3, False, False),
    ]
    outputs = engine.predict(current.arch, current.params, current.data.inputs)
    assert [r.outputs for r in rows] == [tuple(row.tolist()) for row in outputs]


def test_the_tab_lists_every_builtin_and_checks_the_one_in_use() -> None:
    tab = data.context(session.create("s", dataset="xor", layers=[2, 3, 1]), View(tab="data"))["data_tab"]
    assert [c.name for c in tab.choices] == ["single", *datasets.BUILTIN]
    assert [c.name for c in tab.choices if c.checked] == ["xor"]
    assert tab.table == "0 0 ; 0\n0 1 ; 1\n1 0 ; 1\n1 1 ; 0"
