"""The side panel: the view in the URL, the selection, the working, check my answer, gradient check."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app import explain, panel, session
from app.errors import InvalidInputError
from app.pages import COOKIE
from app.panel import View

HX = {"HX-Request": "true"}


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
    assert garbage.check is None and garbage.answer_error is not None


def test_work_says_what_to_run_first() -> None:
    work = panel.work(stepped("forward"), View(select="weight:1,0,0"))
    assert work.derivation is None
    assert work.message is not None and "backward" in work.message


def test_with_nothing_selected_the_loss_is_shown_once_computed() -> None:
    assert panel.work(session.create("p"), View()).loss is None
    s = stepped("forward")
    work = panel.work(s, View())
    assert work.loss is not None and work.loss.result == s.forward.loss  # type: ignore[union-attr]


async def open_page(client: httpx.AsyncClient) -> str:
    client.cookies.clear()
    await client.get("/")
    return client.cookies[COOKIE]


@pytest.mark.anyio
async def test_selecting_a_hidden_weight_shows_its_working(client: httpx.AsyncClient) -> None:
    sid = await open_page(client)
    await client.post("/page/forward", headers=HX)
    await client.post("/page/backward", headers=HX)
    response = await client.get("/page/panel?tab=work&select=weight:0,0,0", headers=HX)
    assert response.status_code == 200
    ids = re.findall(r'<(?:section|figure|form) id="(\w+)"', response.text)
    assert ids == ["panel", "diagram", "controls"]
    api = (await client.get(f"/api/sessions/{sid}/explain?weight=0,0,0")).json()
    assert f'data-result="{api["result"]!r}"' in response.text
    assert "<math" in response.text and "Gradient of hidden weight w11" in response.text
    assert 'class="edge has-gradient selected"' in response.text
    # the controls carry the view, so the next step keeps the panel on the same quantity
    assert '<input type="hidden" name="select" value="weight:0,0,0">' in response.text
    step = await client.post("/page/update", data={"tab": "work", "select": "weight:0,0,0"}, headers=HX)
    assert "New value of hidden weight w11 (after update)" in step.text
    assert 'class="edge has-gradient selected"' in step.text


@pytest.mark.anyio
async def test_check_my_answer_in_the_page(client: httpx.AsyncClient) -> None:
    sid = await open_page(client)
    await client.post("/page/forward", headers=HX)
    expected = (await client.get(f"/api/sessions/{sid}/explain?unit=2,0")).json()["result"]
    right = await client.get(f"/page/panel?tab=work&select=unit:2,0&answer={expected:.4g}", headers=HX)
    assert 'data-correct="true"' in right.text
    wrong = await client.get(f"/page/panel?tab=work&select=unit:2,0&answer={expected * 1.5}", headers=HX)
    assert 'data-correct="false"' in wrong.text
    plain = await client.get(f"/?tab=work&select=unit:2,0&answer={expected:.4g}")
    assert 'data-correct="true"' in plain.text  # the same check works as a plain GET without JavaScript


@pytest.mark.anyio
async def test_quiz_mode_hides_the_numbers_until_answered(client: httpx.AsyncClient) -> None:
    await open_page(client)
    await client.post("/page/forward", headers=HX)
    hidden = await client.get("/page/panel?tab=work&select=unit:1,0&quiz=1", headers=HX)
    body = hidden.text[: hidden.text.index('id="diagram"')]
    assert "<math" not in body and "quiz-lines" in body
    answered = await client.get("/page/panel?tab=work&select=unit:1,0&quiz=1&answer=0.5", headers=HX)
    body = answered.text[: answered.text.index('id="diagram"')]
    assert "<math" in body and "data-correct=" in body


@pytest.mark.anyio
async def test_gradient_check_tab_lists_every_parameter(client: httpx.AsyncClient) -> None:
    sid = await open_page(client)
    response = await client.get("/page/panel?tab=gradients", headers=HX)
    rows = re.findall(
        r'data-parameter="([^"]+)" data-backprop="([^"]+)" data-numerical="([^"]+)"', response.text
    )
    api = (await client.get(f"/api/sessions/{sid}/gradient-check")).json()
    assert [name for name, _, _ in rows] == [row["name"] for row in api["rows"]]
    assert len(rows) == 17  # 6 + 6 weights, 3 + 2 biases
    for _, backprop, numerical in rows:
        assert abs(float(backprop) - float(numerical)) < 1e-8


@pytest.mark.anyio
async def test_panel_without_javascript_redirects_to_the_page(client: httpx.AsyncClient) -> None:
    await open_page(client)
    response = await client.get("/page/panel?tab=gradients", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?tab=gradients"


@pytest.mark.anyio
async def test_substep_opens_its_derivation_in_the_page(client: httpx.AsyncClient) -> None:
    await open_page(client)
    first = await client.post("/page/substep", headers=HX)
    assert "Activation of hidden unit h1 (during the forward pass)" in first.text
    assert 'class="node layer-1 highlight selected"' in first.text
    plain = await client.post("/page/substep", follow_redirects=False)
    assert plain.headers["location"] == "/?tab=work&select=unit%3A2%2C0"
