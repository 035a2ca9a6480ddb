"""What the page's figure shows (app/figure.py): the diagram when its numbers fit, else the weight
matrix; the table; the matrix's numbers from the session."""

from __future__ import annotations

import pytest

from app import figure, session
from app.figure import MATRIX_NOTE
from app.focus import STALE_NOTE
from app.session import Session


def at(phase_steps: tuple[str, ...], **create: object) -> Session:
    s = session.create("f", **create)  # type: ignore[arg-type]
    steps = {"forward": session.run_forward, "backward": session.run_backward, "update": session.run_update}
    for step in ("substep",) if phase_steps == ("substep",) else phase_steps:
        s = session.run_substep(s) if step == "substep" else steps[step](s)
    return s


@pytest.mark.parametrize(
    ("layers", "mode"),
    [
        ([2, 3, 2], "diagram"),
        ([2, 2, 2], "diagram"),
        ([2, 4, 1], "diagram"),
        ([2, 4, 4, 1], "matrix"),
        ([8] * 6, "matrix"),
    ],
)
@pytest.mark.parametrize(
    "steps", [(), ("forward",), ("forward", "backward"), ("forward", "backward", "update")]
)
def test_the_diagram_when_its_numbers_fit_else_the_matrix(
    layers: list[int], mode: str, steps: tuple[str, ...]
) -> None:
    s = at(steps, layers=layers, input=[0.1] * layers[0], target=[0.5] * layers[-1])
    f = figure.build(s)
    assert f.mode == mode
    if mode == "diagram":
        assert [d.orientation for d in f.drawings] == ["landscape", "portrait"] and f.matrix is None
        assert f.drawings[0].labelled and not f.crowded
    else:
        assert f.drawings == () and f.matrix is not None and f.crowded
        assert f.notes[0] == MATRIX_NOTE and STALE_NOTE not in f.notes
    assert f.matrices == len(layers) - 1


def test_asked_for_a_view_it_shows_it() -> None:
    s = at(("forward", "backward"))
    table = figure.build(s, show="table")
    assert table.mode == "table" and table.table is not None and len(table.table.edges) == 12
    matrix = figure.build(s, show="matrix", layer=1)
    assert matrix.mode == "matrix" and matrix.matrix is not None and matrix.layer == 1 and not matrix.crowded
    assert matrix.matrix.title == "∂L/∂u — rows: h, columns: y"
    assert MATRIX_NOTE not in matrix.notes
    # the diagram of a crowded network, without its edges' numbers
    deep = figure.build(at((), layers=[8] * 6, input=[0.0] * 8, target=[0.0] * 8), show="diagram")
    assert deep.mode == "diagram" and deep.crowded and not deep.drawings[0].labelled
    # only the drawings asked for (a phone's answer builds the upright one alone)
    assert [d.orientation for d in figure.build(s, orientations=("portrait",)).drawings] == ["portrait"]


def test_the_matrix_opens_on_the_layer_the_last_step_worked_on() -> None:
    s = session.create("f", layers=[2, 4, 4, 1], target=[0.5])
    s = session.run_forward(s)
    assert figure.build(s).layer == 0
    s = session.run_substep(session.run_substep(s))  # δ of the output layer, then of layer 2
    assert s.phase == "backwarding"
    assert figure.build(s).layer == 1
    assert figure.build(s, layer=2).layer == 2
    assert figure.build(s, layer=7).layer == 1  # no such matrix: the default


def test_the_matrix_shows_the_sessions_numbers() -> None:
    s = at(("forward", "backward", "update"))
    numbers = figure.numbers_of(s)
    assert s.previous is not None and s.backward is not None
    assert numbers[1].weights == s.params.weights[1].tolist()
    assert numbers[1].old_weights == s.previous.weights[1].tolist()
    assert numbers[1].gradients == s.backward.weight_gradient(1).tolist()
    view = figure.matrix_view(s, 1)
    assert view.quantity == "new"
    assert [c.value for c in view.cells] == [float(v) for v in s.params.weights[1].ravel()]
    fresh = figure.numbers_of(session.create("f"))
    assert fresh[0].gradients is None and fresh[0].old_weights is None


def test_the_posts_names_in_the_matrix() -> None:
    mazur = session.create("f", layers=[2, 2, 2])
    view = figure.matrix_view(mazur, 1, names="post")
    assert [c.symbol.text for c in view.cells] == ["w5", "w7", "w6", "w8"]
    assert figure.build(mazur, names="post").post_names
    assert not figure.build(session.create("f")).post_names
