"""Exercise sheets (app/sheets.py): seeded numbers and blanks, the key against an independent numpy
oracle, marking by check my answer's rule (codes, tokens and where sheets are kept:
tests/test_issued_sheets.py)."""

from __future__ import annotations

import numpy as np
import pytest

from app import answers, explain, presets, session, sheets
from app.errors import InvalidInputError
from app.sheets import Blank, SheetError, SheetSpec

SECRET = b"s" * 32


def spec(
    preset: str = "article", seed: int = 7, blanks: int = 10, phases: tuple[str, ...] | None = None
) -> SheetSpec:
    return SheetSpec.of(preset, seed, blanks, phases)


def numbers(sheet: sheets.Sheet) -> list[float]:
    start = sheet.start
    return [*start.params.vector.tolist(), *start.input, *start.target]


# --------------------------------------------------------------------------------------------
# Determinism and the numbers
# --------------------------------------------------------------------------------------------


def test_same_spec_same_sheet_even_when_built_afresh() -> None:
    first = sheets.build(spec())
    sheets.build.cache_clear()
    second = sheets.build(spec())
    assert first is not second
    assert numbers(first) == numbers(second)
    assert first.blanks == second.blanks
    assert [v for _, v in first.answers()] == [v for _, v in second.answers()]


def test_the_draw_is_pinned() -> None:
    """The same seed must give the same sheet on every machine and numpy version we pin: PCG64
    seeded with (SHEET_VERSION, seed). These numbers were drawn once and written down."""
    sheet = sheets.build(SheetSpec("article", 1, 20))
    start = sheet.start
    assert start.params.weights[0].tolist() == [[-0.33, 0.89, 0.08], [0.96, -0.51, 0.09]]
    assert start.params.biases[1].tolist() == [-0.81, -0.78]
    assert (start.input, start.target) == ([0.23, 0.94], [0.58, 0.59])


def test_seeds_differ_and_the_blanks_do_not_change_the_numbers() -> None:
    assert numbers(sheets.build(spec(seed=1))) != numbers(sheets.build(spec(seed=2)))
    base = numbers(sheets.build(spec(seed=3, blanks=4)))
    assert numbers(sheets.build(spec(seed=3, blanks=12))) == base
    assert numbers(sheets.build(spec(seed=3, blanks=3, phases=("update",)))) == base


@pytest.mark.parametrize("preset", ["article", "mazur", "xor"])
def test_numbers_are_hundredths_the_preset_shape_and_one_sample(preset: str) -> None:
    for seed in range(20):
        sheet = sheets.build(spec(preset, seed, 5))
        fields = presets.get(preset).body()
        start = sheet.start
        assert start.arch.layers == tuple(fields["layers"])
        assert start.config.learning_rate == fields["learning_rate"]
        assert start.config.train_biases == fields["train_biases"]
        assert start.config.mode == "sgd" and len(start.data) == 1
        assert start.config.seed == 0  # the seed is not carried into anything a page shows
        for value in numbers(sheet):
            assert value == round(value * 100) / 100 and value != 0.0
        for value in start.params.vector:
            assert 0.05 <= abs(value) <= 0.99
        assert all(0.01 <= v <= 0.99 for v in start.input + start.target)


def test_blanks_are_distinct_in_step_order_from_the_phases_asked() -> None:
    for seed in range(10):
        sheet = sheets.build(spec(seed=seed, blanks=20))
        pool = sheets.candidates(sheet.arch, ("forward", "backward", "update"), True)
        positions = [pool.index(blank) for blank in sheet.blanks]
        assert len(sheet.blanks) == 20 and positions == sorted(set(positions))
    only = sheets.build(spec(seed=1, blanks=6, phases=("backward",)))
    assert {blank.phase for blank in only.blanks} == {"backward"}


def test_candidates_of_the_article_network() -> None:
    pool = sheets.candidates(session.create("x").arch, ("forward", "backward", "update"), True)
    kinds = [(b.phase, b.kind) for b in pool]
    assert kinds.count(("forward", "unit")) == 5 and kinds.count(("forward", "loss")) == 1
    assert kinds.count(("backward", "unit")) == 5 and kinds.count(("backward", "weight")) == 12
    assert kinds.count(("backward", "bias")) == 5
    assert kinds.count(("update", "weight")) == 12 and kinds.count(("update", "bias")) == 5
    # The output layer's δ first, as the backward pass computes them.
    backward = [b for b in pool if b.phase == "backward"]
    assert backward[0] == Blank("unit", (2, 0), "backward")
    untrained = sheets.candidates(session.create("x").arch, ("update",), False)
    assert {b.kind for b in untrained} == {"weight"}


def test_no_update_is_asked_whose_old_value_would_pass() -> None:
    for seed in range(30):
        sheet = sheets.build(spec(seed=seed, blanks=8, phases=("update",)))
        updated = sheet.session_at("update")
        for blank in sheet.blanks:
            old = float(
                sheet.start.params.weights[blank.index[0]][blank.index[1:]]
                if blank.kind == "weight"
                else sheet.start.params.biases[blank.index[0]][blank.index[1]]
            )
            assert not answers.check(updated, blank.kind, blank.index, old).correct


def test_fair_refuses_an_output_that_almost_meets_its_target() -> None:
    start = sheets.build(spec()).start
    y = session.run_forward(start).forward
    assert y is not None and sheets.fair(start)
    close = session.edit(start, target=[float(v) + 0.01 for v in y.activation(2)[0]])
    assert not sheets.fair(close)


def test_too_many_blanks_for_the_phases_says_how_many_there_are() -> None:
    with pytest.raises(SheetError, match=r"the mazur network has \d+ quantities in the phases forward"):
        sheets.build(spec("mazur", 1, 6, ("forward",)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("article", 1, 0, None), r"blanks: must lie in 1\.\.20, got 0"),
        (("article", 1, 21, None), r"blanks: must lie in 1\.\.20, got 21"),
        (("article", -1, 5, None), r"seed: must lie in 0\.\.4294967295"),
        (("article", 2**32, 5, None), r"seed: must lie in"),
        (("article", 1, 5, ["sideways"]), r"phases: choose one or more of forward, backward, update"),
        (("article", 1, 5, []), r"phases: choose one or more"),
        (("nope", 1, 5, None), r"preset: unknown preset 'nope'"),
    ],
)
def test_a_bad_spec_is_refused(args: tuple[str, int, int, list[str] | None], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SheetSpec.of(*args)


def test_spec_of_orders_phases_and_draws_a_seed_when_none_is_given() -> None:
    given = SheetSpec.of("article", 3, 5, ["update", "forward", "update"])
    assert given.phases == ("forward", "update")
    seeds = {SheetSpec.of("article", None, 5).seed for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s <= sheets.MAX_SEED for s in seeds)
    with pytest.raises(SheetError, match="each once, in step order"):
        SheetSpec("article", 3, 5, ("update", "forward"))


# --------------------------------------------------------------------------------------------
# The key against an independent oracle: MATH.md's formulas in numpy
# --------------------------------------------------------------------------------------------


def oracle(sheet: sheets.Sheet) -> dict[Blank, float]:
    """Every quantity of one step of a sigmoid network with L2 loss, from MATH.md directly."""
    start = sheet.start
    ws = [w.copy() for w in start.params.weights]
    bs = [b.copy() for b in start.params.biases]
    x, t, eta = np.array(start.input), np.array(start.target), start.config.learning_rate
    hs, depth = [x], len(ws)
    for w, b in zip(ws, bs, strict=True):
        hs.append(1 / (1 + np.exp(-(hs[-1] @ w + b))))
    y = hs[-1]
    values: dict[Blank, float] = {Blank("loss", (), "forward"): float(0.5 * np.sum((y - t) ** 2))}
    deltas: dict[int, np.ndarray] = {depth: (y - t) * y * (1 - y)}
    for layer in range(depth - 1, 0, -1):
        deltas[layer] = (ws[layer] @ deltas[layer + 1]) * hs[layer] * (1 - hs[layer])
    for layer in range(1, depth + 1):
        l = layer - 1
        gradient = np.outer(hs[l], deltas[layer])
        new_w = ws[l] - eta * gradient
        new_b = bs[l] - eta * deltas[layer] if start.config.train_biases else bs[l]
        for j in range(len(deltas[layer])):
            values[Blank("unit", (layer, j), "forward")] = float(hs[layer][j])
            values[Blank("unit", (layer, j), "backward")] = float(deltas[layer][j])
            values[Blank("bias", (l, j), "backward")] = float(deltas[layer][j])
            values[Blank("bias", (l, j), "update")] = float(new_b[j])
            for i in range(len(hs[l])):
                values[Blank("weight", (l, i, j), "backward")] = float(gradient[i, j])
                values[Blank("weight", (l, i, j), "update")] = float(new_w[i, j])
    return values


@pytest.mark.parametrize("preset", ["article", "mazur", "xor"])
def test_the_key_agrees_with_mathmd_computed_independently(preset: str) -> None:
    for seed in range(8):
        sheet = sheets.build(spec(preset, seed, 20))
        expected = oracle(sheet)
        for blank, value in sheet.answers():
            assert value == pytest.approx(expected[blank], rel=1e-12, abs=1e-15), blank


def test_the_key_is_explains_result_in_the_blanks_phase() -> None:
    sheet = sheets.build(spec(blanks=20))
    for blank, value in sheet.answers():
        phase = sheets.SESSION_PHASES[blank.phase]
        stepped = sheet.session_at(blank.phase)
        assert stepped.phase == phase
        assert value == explain.explain(stepped, blank.kind, blank.index).result


# --------------------------------------------------------------------------------------------
# Marking
# --------------------------------------------------------------------------------------------


def test_the_key_scores_full_marks_and_one_percent_off_scores_nothing() -> None:
    for seed in range(5):
        sheet = sheets.build(spec(seed=seed, blanks=20))
        key = list(sheet.answers())
        assert all(mark.correct and mark.answered for mark in sheets.grade(sheet, key))
        off = [(blank, value * 1.01) for blank, value in key]
        assert not any(mark.correct for mark in sheets.grade(sheet, off))


def test_grading_follows_check_my_answers_tolerance() -> None:
    sheet = sheets.build(spec(blanks=6))
    for blank, value in sheet.answers():
        tolerance = answers.tolerance_for(value)
        inside = sheets.grade(sheet, [(blank, value + 0.9 * tolerance)])
        outside = sheets.grade(sheet, [(blank, value + 1.1 * tolerance)])
        marked = {mark.blank: mark.correct for mark in inside}
        assert marked[blank] is True
        assert {mark.blank: mark.correct for mark in outside}[blank] is False


def test_unanswered_blanks_are_marked_wrong_in_the_sheets_order() -> None:
    sheet = sheets.build(spec(blanks=5))
    first, value = sheet.answers()[0]
    marks = sheets.grade(sheet, [(first, value)])
    assert [mark.blank for mark in marks] == list(sheet.blanks)
    assert [(m.answered, m.correct) for m in marks] == [(True, True)] + [(False, False)] * 4


def test_answers_for_other_quantities_or_twice_are_refused() -> None:
    sheet = sheets.build(spec(blanks=3))
    others = [b for b in sheets.candidates(sheet.arch, sheets.SHEET_PHASES, True) if b not in sheet.blanks]
    with pytest.raises(SheetError, match="is not a blank of this sheet"):
        sheets.grade(sheet, [(others[0], 0.5)])
    blank = sheet.blanks[0]
    with pytest.raises(SheetError, match="is answered twice"):
        sheets.grade(sheet, [(blank, 0.5), (blank, 0.5)])
    with pytest.raises(SheetError, match="finite"):
        sheets.grade(sheet, [(blank, float("nan"))])


def test_blank_quantity_is_named_as_check_names_it() -> None:
    assert Blank("unit", (1, 0), "forward").quantity() == {"unit": [1, 0], "phase": "forward"}
    assert Blank("weight", (0, 1, 2), "update").quantity() == {"weight": [0, 1, 2], "phase": "update"}
    assert Blank("loss", (), "forward").quantity() == {"loss": True, "phase": "forward"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1234", 0.1234),
        ("0,1234", 0.1234),
        (" −0,5 ", -0.5),
        ("-.5", -0.5),
        (",5", 0.5),
        ("1.2e-3", 0.0012),
        ("1,5E2", 150.0),
        ("+3", 3.0),
        ("7.", 7.0),
    ],
)
def test_parse_answer_takes_a_decimal_comma(text: str, value: float) -> None:
    assert sheets.parse_answer(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,234.5", "1.2.3", "1_000", "inf", "nan", "0x10", "1e", "--1"])
def test_parse_answer_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        sheets.parse_answer(text)


def test_parse_answer_refuses_an_overflow() -> None:
    with pytest.raises(ValueError, match="too large"):
        sheets.parse_answer("1e999")
