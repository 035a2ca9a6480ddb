"""Decision maps: the grid is the network's output at the cell centres, the points sit on it."""

from __future__ import annotations

import numpy as np
import pytest

from app import decision, engine, session
from app.decision import DecisionMap
from app.errors import InvalidInputError
from app.session import Session


def xor_session(steps: int = 50) -> Session:
    created = session.create("d", layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch")
    return session.run_steps(created, steps)


def only(maps: tuple[DecisionMap, ...]) -> DecisionMap:
    assert len(maps) == 1
    return maps[0]


def test_one_map_per_output_unit() -> None:
    maps = decision.build(session.create("d"))  # the article's 2-3-2
    assert [m.output for m in maps] == [0, 1]
    assert [m.title for m in maps] == ["y1", "y2"]
    for m in maps:
        assert m.resolution == 24 and len(m.cells) == 24 * 24
        assert (m.x_axis.label, m.y_axis.label) == ("x1", "x2")


def test_no_map_unless_there_are_two_inputs() -> None:
    three = session.create("d", layers=[3, 3, 1], input=[0.1, 0.2, 0.3], target=[1.0])
    one = session.create("d", layers=[1, 2, 1], input=[0.5], target=[1.0])
    assert decision.build(three) == ()
    assert decision.build(one) == ()


@pytest.mark.parametrize("resolution", [2, 7, 24])
def test_cell_values_are_the_networks_output_at_the_cell_centres(resolution: int) -> None:
    current = xor_session()  # trained, so the current parameters differ from the initial ones
    m = only(decision.build(current, resolution=resolution))
    assert len(m.cells) == resolution**2
    centres = np.array([[cell.x1, cell.x2] for cell in m.cells])
    values = np.array([cell.value for cell in m.cells])
    # Exact: one batched predict over the centres gives these very bits.
    assert np.array_equal(values, engine.predict(current.arch, current.params, centres)[:, 0])
    # One centre at a time agrees to the last bit or two: a batch of one takes a different BLAS
    # path (matrix-vector instead of matrix-matrix), which may round a sum differently.
    for cell in m.cells:
        alone = engine.predict(current.arch, current.params, np.array([[cell.x1, cell.x2]]))
        assert cell.value == pytest.approx(float(alone[0, 0]), rel=1e-15, abs=0.0)
    # The centres: evenly spaced, x1 growing to the right, x2 growing upwards (row 0 on top).
    b = m.bounds
    step1, step2 = (b.x1_max - b.x1_min) / resolution, (b.x2_max - b.x2_min) / resolution
    for cell in m.cells:
        assert cell.x1 == pytest.approx(b.x1_min + (cell.column + 0.5) * step1, abs=1e-12)
        assert cell.x2 == pytest.approx(b.x2_max - (cell.row + 0.5) * step2, abs=1e-12)


def test_the_map_follows_the_current_parameters() -> None:
    before = xor_session(steps=1)
    after = session.run_steps(before, 200)
    first, second = only(decision.build(before)), only(decision.build(after))
    assert [c.value for c in first.cells] != [c.value for c in second.cells]
    centres = np.array([[cell.x1, cell.x2] for cell in second.cells])
    expected = engine.predict(after.arch, after.params, centres)[:, 0]
    assert [c.value for c in second.cells] == expected.tolist()


def test_bounds_pad_the_data_by_a_tenth_of_its_span() -> None:
    m = only(decision.build(xor_session(steps=1)))
    assert (m.bounds.x1_min, m.bounds.x1_max) == pytest.approx((-0.1, 1.1), abs=1e-15)
    assert (m.bounds.x2_min, m.bounds.x2_max) == pytest.approx((-0.1, 1.1), abs=1e-15)
    assert (m.x_axis.min_text, m.x_axis.max_text) == ("−0.1", "1.1")


def test_a_single_point_gets_half_a_unit_on_each_side() -> None:
    maps = decision.build(session.create("d"))  # the sample (0.05, 0.1)
    b = maps[0].bounds
    assert (b.x1_min, b.x1_max) == pytest.approx((-0.45, 0.55), abs=1e-15)
    assert (b.x2_min, b.x2_max) == pytest.approx((-0.4, 0.6), abs=1e-15)
    (point,) = maps[0].points
    assert point.current and point.target == 0.01
    assert maps[1].points[0].target == 0.99


@pytest.mark.parametrize("dataset", ["xor", "and", "blobs", "circle"])
def test_points_lie_inside_the_bounds_and_the_plot_area(dataset: str) -> None:
    current = session.create("d", dataset=dataset)
    m = only(decision.build(current))
    assert len(m.points) == len(current.data)
    for point, row, target in zip(m.points, current.data.inputs, current.data.targets, strict=True):
        assert (point.x1, point.x2) == (row[0], row[1])
        assert point.target == target[0]
        assert m.bounds.contains(point.x1, point.x2)
        assert m.left < point.x < m.left + m.size and m.top < point.y < m.top + m.size


def test_point_positions_match_the_grid() -> None:
    m = only(decision.build(xor_session(steps=1)))
    # (0, 0) is left and low: x = 64 + 0.1/1.2 × 360 = 94, y = 40 + 1.1/1.2 × 360 = 370.
    assert (m.points[0].x, m.points[0].y) == (94.0, 370.0)
    assert (m.points[3].x, m.points[3].y) == (394.0, 70.0)  # (1, 1): right and high
    assert (m.cells[0].x, m.cells[0].y) == (m.left, m.top)
    last = m.cells[-1]
    assert (last.x, last.y) == (m.left + m.size - m.cell_size, m.top + m.size - m.cell_size)


def test_the_current_sample_is_marked() -> None:
    current = session.edit(session.create("d", dataset="xor"), sample_index=2)
    m = only(decision.build(current))
    assert [p.current for p in m.points] == [False, False, True, False]


def test_sigmoid_outputs_use_a_fixed_0_to_1_scale() -> None:
    m = only(decision.build(xor_session()))
    assert (m.value_min, m.value_max) == (0.0, 1.0)
    assert m.points[0].fill == decision.colour(0.0, 0.0, 1.0) == m.colour_min
    assert m.points[1].fill == decision.colour(1.0, 0.0, 1.0) == m.colour_max


def test_other_outputs_map_through_the_smallest_and_largest_value() -> None:
    # y = 2 x1 + 3 x2 − 1: from −1.375 at the bottom-left cell centre to 4.375 at the top-right.
    current = session.create(
        "d",
        layers=[2, 1],
        output_activation="linear",
        dataset="xor",
        weights=[[[2.0], [3.0]]],
        biases=[[-1.0]],
    )
    m = only(decision.build(current))
    values = [c.value for c in m.cells] + [p.target for p in m.points]
    assert (m.value_min, m.value_max) == (min(values), max(values))
    coloured = [(c.value, c.fill) for c in m.cells] + [(p.target, p.fill) for p in m.points]
    assert min(coloured)[1] == m.colour_min == decision.colour(m.value_min, m.value_min, m.value_max)
    assert max(coloured)[1] == m.colour_max == decision.colour(m.value_max, m.value_min, m.value_max)
    assert (m.value_min, m.value_max) == pytest.approx((-1.375, 4.375), abs=1e-12)


def test_colours_diverge_from_white() -> None:
    assert decision.colour(0.5, 0.0, 1.0) == "#ffffff"
    assert decision.colour(1.0, 0.0, 1.0) == "#3e77c3"  # #1c5fb8 at 85%, 15% white
    assert decision.colour(0.0, 0.0, 1.0) == "#cb5e30"  # #c2410c at 85%, 15% white
    assert decision.colour(7.0, 0.0, 1.0) == decision.colour(1.0, 0.0, 1.0)  # clipped
    assert decision.colour(3.0, 3.0, 3.0) == "#ffffff"  # a flat scale is all middle


def test_resolution_is_bounded() -> None:
    with pytest.raises(InvalidInputError, match="resolution"):
        decision.build(session.create("d"), resolution=1)
    with pytest.raises(InvalidInputError, match="resolution"):
        decision.build(session.create("d"), resolution=101)
