"""The side panel's view: the view in the URL, the selection, the working, check my answer."""

from __future__ import annotations

from typing import Any

import pytest

from app import explain, session
from app.errors import InvalidInputError
from app.web.views import panel
from app.web.views.panel import View


def stepped(*actions: str) -> session.Session:
    s = session.create("p")
    for action in actions:
        s = {
            "forward": session.run_forward,
            "backward": session.run_backward,
            "update": session.run_update,
            "substep": session.run_substep,
        }[action](s)
    return s


def test_view_round_trips_through_the_url() -> None:
    assert View.parse({}) == View()
    assert View().query == ""
    view = View.parse({"tab": "work", "select": "weight:0,1,2", "quiz": "1", "answer": "0.1"})
    assert view == View("work", "weight:0,1,2", True, "0.1")
    assert view.query == "?tab=work&select=weight%3A0%2C1%2C2&quiz=1"
    assert View.parse({"tab": "nonsense"}).tab == "work"
    assert view.but(quiz=False).fields() == {"tab": "work", "select": "weight:0,1,2"}
    assert len(View.parse({"select": "x" * 500}).select) == 40


def test_the_figure_and_the_page_look_are_part_of_the_view() -> None:
    view = View.parse({"present": "1", "theme": "dark", "show": "matrix", "layer": "2", "names": "post"})
    assert view == View(present=True, theme="dark", show="matrix", layer="2", names="post")
    assert view.fields() == {
        "tab": "work",
        "present": "1",
        "theme": "dark",
        "show": "matrix",
        "layer": "2",
        "names": "post",
    }
    assert view.query == "?tab=work&present=1&theme=dark&show=matrix&layer=2&names=post"
    # anything else falls back to the default, never to an error
    odd = View.parse({"present": "yes", "theme": "sepia", "show": "chart", "layer": "12", "names": "w"})
    assert odd == View()
    assert View.parse({"layer": "-1"}).layer == "" and View.parse({"layer": "x"}).layer == ""


@pytest.mark.parametrize(
    "view",
    [
        View(),
        View(quiz=True),
        View(tab="data", select="unit:1,0", answer="0.3"),
        View(present=True, theme="light", show="table", layer="1", names="post", quiz=True),
    ],
)
@pytest.mark.parametrize("key", ["weight:0,1,2", "unit:2,0", "bias:0,1", "loss"])
def test_a_picks_query_is_the_views_with_the_key_selected(view: View, key: str) -> None:
    """The figure's many links are built from one prefix; they must equal the slow way's."""
    assert view.pick(key) == view.but(tab="work", select=key, answer="").query


def test_in_presentation_mode_the_working_follows_the_steps() -> None:
    s = session.run_substep(session.run_forward(session.create("p")))
    assert panel.work(s, View()).derivation is None
    work = panel.work(s, View(present=True))
    assert work.derivation is not None and work.derivation.quantity == "δ(2)1"
    assert panel.work(s, View(present=True, select="unit:1,0")).derivation.quantity == "h1"  # type: ignore[union-attr]


def test_after_an_update_the_working_says_which_numbers_are_stale() -> None:
    s = stepped("forward", "backward", "update")
    assert panel.work(s, View()).stale  # the loss: of the forward pass before the update
    assert panel.work(s, View(select="unit:2,1")).stale
    assert not panel.work(s, View(select="weight:0,0,0")).stale
    assert not panel.work(stepped("forward"), View()).stale


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        ("", None),
        ("loss", ("loss", ())),
        ("unit:0,1", ("unit", (0, 1))),
        ("weight:1,2,0", ("weight", (1, 2, 0))),
        ("bias:1,1", ("bias", (1, 1))),
    ],
)
def test_selection_parses_quantities(select: str, expected: Any) -> None:
    assert panel.selection(session.create("p"), View(select=select)) == expected


@pytest.mark.parametrize("select", ["unit:3,0", "weight:0,0", "bias:2,0", "neuron:1,1", "weight:a,b,c"])
def test_bad_selections_are_refused_with_a_message(select: str) -> None:
    with pytest.raises(InvalidInputError):
        panel.selection(session.create("p"), View(select=select))
    work = panel.work(stepped("forward"), View(select=select))
    assert work.derivation is None and work.message


def test_each_substep_opens_what_it_computed() -> None:
    s = session.create("p")
    opened = []
    for _ in range(6):
        s = session.run_substep(s)
        opened.append(panel.auto_select(s))
    assert opened == ["unit:1,0", "unit:2,0", "loss", "unit:2,0", "unit:1,0", "weight:1,0,0"]


def test_work_shows_the_derivation_and_checks_an_answer() -> None:
    s = stepped("forward", "backward")
    expected = explain.explain(s, "weight", (0, 0, 0))
    work = panel.work(s, View(select="weight:0,0,0"))
    assert work.derivation == expected and work.message is None and work.check is None
    right = panel.work(s, View(select="weight:0,0,0", answer=f"{expected.result:.4g}"))
    assert right.check is not None and right.check.correct
    wrong = panel.work(s, View(select="weight:0,0,0", answer=repr(expected.result * 1.01)))
    assert wrong.check is not None and not wrong.check.correct
    garbage = panel.work(s, View(select="weight:0,0,0", answer="twelve"))
    assert garbage.check is None
    assert garbage.answer_error == "“twelve” is not a number (write e.g. 0.1234 or 0,1234)"


@pytest.mark.parametrize("comma", [True, False])
def test_an_answer_may_have_a_decimal_comma(comma: bool) -> None:
    s = stepped("forward", "backward")
    expected = explain.explain(s, "unit", (1, 0)).result
    typed = f"{expected:.4g}".replace(".", "," if comma else ".").replace("-", "−")
    work = panel.work(s, View(select="unit:1,0", answer=typed))
    assert work.check is not None and work.check.correct and work.answer_error is None


def test_work_says_what_to_run_first() -> None:
    work = panel.work(stepped("forward"), View(select="weight:1,0,0"))
    assert work.derivation is None
    assert work.message is not None and "backward" in work.message


def test_with_nothing_selected_the_loss_is_shown_once_computed() -> None:
    assert panel.work(session.create("p"), View()).loss is None
    s = stepped("forward")
    work = panel.work(s, View())
    assert work.loss is not None and work.loss.result == s.forward.loss  # type: ignore[union-attr]
