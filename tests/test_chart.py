"""The loss chart's geometry: nice ticks, readable labels, the min-max envelope, the edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from app import chart
from app.chart import Chart

# The default plot area: 104..688 across, 28..324 down.
LEFT, TOP, RIGHT, BOTTOM = 104.0, 28.0, 688.0, 324.0


def vertices(result: Chart) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (pair.split(",") for pair in result.points.split())]


# --------------------------------------------------------------------------------------------
# Ticks and labels
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.01, 0.3, (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)),
        (0.0, 1.0, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
        (0.2, 0.27, (0.2, 0.22, 0.24, 0.26, 0.28)),
        (0.0, 0.596, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)),
        (3.0, 7.0, (3.0, 4.0, 5.0, 6.0, 7.0)),
        (0.0, 12345.0, (0.0, 5000.0, 10000.0, 15000.0)),
        (0.00012, 0.00031, (0.0001, 0.00015, 0.0002, 0.00025, 0.0003, 0.00035)),
    ],
)
def test_linear_ticks_are_1_2_5_steps_enclosing_the_range(
    low: float, high: float, expected: tuple[float, ...]
) -> None:
    assert chart.linear_ticks(low, high) == expected  # exact: the doubles nearest the decimals


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1e-4, 0.3, (1e-4, 1e-3, 1e-2, 0.1, 1.0)),
        (0.03, 0.9, (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)),
        (2e-9, 5.0, (1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 100.0)),
        (0.1, 0.1, (0.1, 0.2, 0.5, 1.0)),
    ],
)
def test_log_ticks_are_decades(low: float, high: float, expected: tuple[float, ...]) -> None:
    assert chart.log_ticks(low, high) == expected


@pytest.mark.parametrize(
    ("value", "step", "label"),
    [
        (0.0, 0.05, "0"),
        (0.05, 0.05, "0.05"),
        (0.1, 0.05, "0.1"),
        (0.15, 0.05, "0.15"),
        (2.0, 1.0, "2"),
        (15000.0, 5000.0, "15000"),
        (0.0002, 0.0002, "2e-4"),
        (0.0012, 0.0002, "1.2e-3"),
        (-0.5, 0.5, "−0.5"),
        (2e6, 1e6, "2e6"),
    ],
)
def test_linear_labels(value: float, step: float, label: str) -> None:
    assert chart.linear_label(value, step) == label


@pytest.mark.parametrize(
    ("value", "label"),
    [(1e-4, "1e-4"), (5e-6, "5e-6"), (1e-3, "0.001"), (0.02, "0.02"), (1.0, "1"), (1000.0, "1000"),
     (1e5, "1e5")],
)  # fmt: skip
def test_log_labels(value: float, label: str) -> None:
    assert chart.log_label(value) == label


@pytest.mark.parametrize(
    ("value", "label"),
    [(1, "1"), (500, "500"), (1000, "1k"), (2500, "2.5k"), (10_000, "10k"), (100_000, "100k"),
     (1_000_000, "1M"), (1_500_000, "1.5M")],
)  # fmt: skip
def test_count_labels(value: float, label: str) -> None:
    assert chart.count_label(value) == label


# --------------------------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------------------------


def test_a_falling_curve_on_a_linear_axis() -> None:
    losses = np.linspace(0.3, 0.01, 50)  # 30 times: under 2 decades, so linear
    result = chart.build(losses)
    assert not result.log_scale and result.y_title == "loss"
    assert [t.value for t in result.y_ticks] == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    assert [t.label for t in result.y_ticks] == ["0", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3"]
    assert [t.position for t in result.y_ticks] == [324.0, 274.7, 225.3, 176.0, 126.7, 77.3, 28.0]
    assert [t.label for t in result.x_ticks] == ["1", "10", "20", "30", "40", "50"]
    assert result.x_ticks[0].position == LEFT and result.x_ticks[-1].position == RIGHT
    assert result.point_count == 50 and len(vertices(result)) == 50
    # First vertex: update 1 at the left edge, loss 0.3 at the top; last: update 50, 0.01.
    assert vertices(result)[0] == (LEFT, TOP)
    assert vertices(result)[-1] == (RIGHT, round(BOTTOM - 0.01 / 0.3 * (BOTTOM - TOP), 1))


def test_more_than_two_decades_switch_to_a_log_axis() -> None:
    losses = np.geomspace(1.0, 1e-4, 1000)
    result = chart.build(losses)
    assert result.log_scale and result.y_title == "loss (log scale)"
    assert [t.label for t in result.y_ticks] == ["1e-4", "0.001", "0.01", "0.1", "1"]
    assert [t.position for t in result.y_ticks] == [324.0, 250.0, 176.0, 102.0, 28.0]
    assert [t.label for t in result.x_ticks] == ["1", "200", "400", "600", "800", "1k"]
    # Geometric data on a log axis is a straight line from the top-left to the bottom-right.
    assert vertices(result)[0] == (LEFT, TOP) and vertices(result)[-1] == (RIGHT, BOTTOM)


def test_log_scale_thresholds_and_overrides() -> None:
    assert not chart.build([1.0, 0.01]).log_scale  # exactly 2 decades: not more than 2
    assert chart.build([1.0, 0.0099]).log_scale
    assert not chart.build([1.0, 1e-6], log_scale=False).log_scale
    assert chart.build([0.3, 0.2], log_scale=True).log_scale
    # A zero loss (an exact fit) cannot go on a log axis, even when asked.
    assert not chart.build([1.0, 1e-6, 0.0], log_scale=True).log_scale


def test_x_ticks_for_a_long_run_are_in_thousands() -> None:
    result = chart.build(np.linspace(1.0, 0.5, 100_000))
    assert [t.label for t in result.x_ticks] == ["1", "20k", "40k", "60k", "80k", "100k"]
    assert [t.value for t in result.x_ticks] == [1.0, 20_000.0, 40_000.0, 60_000.0, 80_000.0, 100_000.0]


def test_fonts_are_big_enough_for_a_projector_and_fit_the_margins() -> None:
    result = chart.build([0.5, 0.25])
    assert result.font_size >= 16
    assert result.plot.left >= 5 * result.font_size  # room for "0.001" and the rotated title
    assert result.height - result.plot.bottom >= 3 * result.font_size  # tick labels and the title


# --------------------------------------------------------------------------------------------
# Downsampling
# --------------------------------------------------------------------------------------------


def noisy_run(n: int, seed: int = 3) -> np.ndarray:
    """A falling loss with noise, a tall spike and a deep dip at arbitrary places."""
    rng = np.random.default_rng(seed)
    values = np.exp(-np.linspace(0.0, 5.0, n)) * (1.0 + 0.2 * rng.random(n))
    values[(n // 3 + 17) % n] = 40.0
    values[(2 * n // 3 + 5) % n] = 1e-9
    return values


@pytest.mark.parametrize("n", [100_000, 1_000_000])
def test_the_envelope_keeps_the_extremes_and_the_ends(n: int) -> None:
    values = noisy_run(n)
    kept = chart.downsample(values, 600)
    assert len(kept) <= 600
    assert list(kept) == sorted(set(kept.tolist()))
    for index in (0, n - 1, int(np.argmin(values)), int(np.argmax(values))):
        assert index in kept


@pytest.mark.parametrize("n", [5, 601, 602, 1000, 1201, 12_345, 99_999])
@pytest.mark.parametrize("max_points", [4, 5, 600, 601])
def test_the_envelope_never_exceeds_max_points(n: int, max_points: int) -> None:
    values = noisy_run(n)
    kept = chart.downsample(values, max_points)
    assert len(kept) <= max_points
    if n <= max_points:
        assert kept.tolist() == list(range(n))
    else:
        assert kept[0] == 0 and kept[-1] == n - 1
        assert int(np.argmax(values)) in kept and int(np.argmin(values)) in kept


def test_every_bucket_keeps_its_min_and_max() -> None:
    values = np.array([5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 0.5])
    # max_points 6: at most 2 buckets of a power-of-two width: 8 and 2 values (min 1.0 at 1,
    # max 9.0 at 2; max 6.0 at 8, min 0.5 at 9), plus the first and the last point.
    assert chart.downsample(values, 6).tolist() == [0, 1, 2, 8, 9]


def test_a_long_run_draws_a_bounded_polyline_with_its_spikes() -> None:
    values = noisy_run(100_000)
    result = chart.build(values, max_points=600)
    points = vertices(result)
    assert result.count == 100_000
    assert result.point_count == len(points) <= 600
    assert result.log_scale  # 40 down to 1e-9
    # The spike reaches the top tick's decade and the dip the bottom one: both survive.
    top = min(y for _, y in points)
    bottom = max(y for _, y in points)
    expected_top = TOP + (2 - np.log10(40.0)) / 12 * (BOTTOM - TOP)  # axis 1e-10 .. 1e2
    expected_bottom = TOP + (2 - np.log10(1e-9)) / 12 * (BOTTOM - TOP)
    assert top == pytest.approx(expected_top, abs=0.05)
    assert bottom == pytest.approx(expected_bottom, abs=0.05)
    assert points[0][0] == LEFT and points[-1][0] == RIGHT


@pytest.mark.parametrize(
    "losses",
    [noisy_run(100_000), np.linspace(0.3, 0.01, 2000), np.geomspace(2.0, 3e-7, 777), np.array([0.0, 0.0])],
)
def test_every_vertex_and_tick_is_inside_the_plot_area(losses: np.ndarray) -> None:
    result = chart.build(losses)
    for x, y in vertices(result):
        assert LEFT <= x <= RIGHT and TOP <= y <= BOTTOM
    for tick in result.y_ticks:
        assert TOP <= tick.position <= BOTTOM
    for tick in result.x_ticks:
        assert LEFT <= tick.position <= RIGHT
    assert result.y_min <= float(losses.min()) and float(losses.max()) <= result.y_max


def test_coordinates_are_rounded_to_a_tenth() -> None:
    result = chart.build(noisy_run(5000))
    for pair in result.points.split():
        for number in pair.split(","):
            assert len(number.split(".")[1]) == 1


# --------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------


def test_no_losses_is_an_empty_chart_with_a_message() -> None:
    result = chart.build([])
    assert result.empty and result.count == 0
    assert result.points == "" and result.point_count == 0
    assert result.last is None
    assert result.x_ticks == () and result.y_ticks == ()
    assert result.message == chart.EMPTY_MESSAGE


def test_a_single_loss_sits_in_the_middle() -> None:
    result = chart.build((0.298,))
    assert not result.empty and result.message == ""
    assert [t.label for t in result.y_ticks] == ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6"]
    assert [t.label for t in result.x_ticks] == ["1"]
    assert result.x_ticks[0].position == 396.0  # centre of 104..688
    assert result.points == "396.0,177.0"  # 324 − 0.298/0.6 × 296 = 176.99
    assert result.last is not None
    assert (result.last.update, result.last.value, result.last.label) == (1, 0.298, "0.298")
    assert (result.last.x, result.last.y) == (396.0, 177.0)


def test_the_last_loss_is_marked_at_the_end_of_the_curve() -> None:
    result = chart.build([0.3, 0.2, 0.123456])
    assert result.last is not None
    assert result.last.update == 3 and result.last.value == 0.123456 and result.last.label == "0.1235"
    assert (result.last.x, result.last.y) == vertices(result)[-1]
    assert result.last.anchor == "end" and result.last.label_x < result.last.x


def test_non_finite_losses_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        chart.build([0.3, float("nan")])
    with pytest.raises(ValueError, match="finite"):
        chart.build([0.3, float("inf")])


def test_max_points_needs_room_for_the_ends() -> None:
    with pytest.raises(ValueError, match="max_points"):
        chart.build(np.ones(100), max_points=3)
