"""The sheet pages (app/sheets_pages.py) through httpx, as plain forms without JavaScript: make a
sheet, print it, read its key, check answers; no answer ever shows where it should not."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app import notation, sheets
from app.sheets import SheetSpec
from tests.web.page import page_session

pytestmark = pytest.mark.anyio

SAME_ORIGIN = {"Origin": "http://testserver"}


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/sheets", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def renderings(value: float) -> set[str]:
    """How a number could appear on a page: as the page rounds it, in full, and a few other ways."""
    shown = {notation.fmt(value), repr(value), f"{value:.4g}", f"{value:.5g}", f"{value:.6f}", f"{value:.4f}"}
    shown |= {text.replace("-", "−") for text in shown}
    return shown


def leaks(html: str, sheet: sheets.Sheet) -> list[str]:
    """Renderings of any answer found in ``html``, except those that are also a given number."""
    given = {
        notation.fmt(v)
        for v in [*sheet.start.params.vector.tolist(), *sheet.start.input, *sheet.start.target]
    }
    found = []
    for _, value in sheet.answers():
        for text in renderings(value) - given:
            if re.search(rf"(?<![0-9.]){re.escape(text)}(?![0-9])", html):
                found.append(text)
    return found


# --------------------------------------------------------------------------------------------
# Making a sheet
# --------------------------------------------------------------------------------------------


async def test_the_form_to_make_a_sheet(client: httpx.AsyncClient) -> None:
    response = await client.get("/sheets/new", params={"preset": "xor"})
    assert response.status_code == 200
    html = response.text
    assert '<form class="new-form" method="post" action="/sheets/new"' in html
    assert '<option value="xor" selected>' in html and '<option value="article">' in html
    assert html.count('type="checkbox"') == 3 and html.count(" checked") == 3
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_making_a_sheet_redirects_to_its_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    form = {"preset": "mazur", "seed": "12", "blanks": "5", "forward": "on", "backward": "on"}
    response = await client.post("/sheets/new", data=form, headers=SAME_ORIGIN)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    code = location.path.split("/")[2]
    assert location.path == f"/sheets/{code}/key"
    book = app.state.sheets
    assert parse_qs(location.query)["token"] == [book.key_token(code)]
    assert book.records.get(code) == SheetSpec("mazur", 12, 5, ("forward", "backward"))
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and code in page.text


@pytest.mark.parametrize(
    ("form", "messages"),
    [
        (
            {"preset": "article", "seed": "", "blanks": "0", "forward": "on"},
            ["Blanks: a whole number from 1 to 20"],
        ),
        ({"preset": "article", "seed": "x", "blanks": "3", "forward": "on"}, ["Seed: a whole number from 0"]),
        (
            {"preset": "article", "seed": "4294967296", "blanks": "3", "update": "on"},
            ["Seed: a whole number"],
        ),
        ({"preset": "article", "blanks": "3"}, ["Phases: tick at least one"]),
        ({"preset": "nope", "blanks": "3", "forward": "on"}, ["Network: choose one of article, mazur, xor"]),
        (
            {"preset": "mazur", "seed": "1", "blanks": "9", "forward": "on"},
            ["The mazur network has 5 quantities in the phases forward"],
        ),
    ],
)
async def test_a_form_that_cannot_be_used_makes_nothing_and_says_why(
    app: FastAPI, client: httpx.AsyncClient, form: dict[str, str], messages: list[str]
) -> None:
    kept: list[str] = []
    app.state.sheets.records.put = lambda code, spec: kept.append(code)
    response = await client.post("/sheets/new", data=form, headers=SAME_ORIGIN)
    assert response.status_code == 422
    for message in messages:
        assert message in response.text
    assert "No sheet was made" in response.text
    assert kept == []
    assert f'value="{form["blanks"]}"' in response.text  # what was typed stays


async def test_a_sheet_is_not_made_from_another_site(client: httpx.AsyncClient) -> None:
    form = {"preset": "article", "blanks": "3", "forward": "on"}
    response = await client.post("/sheets/new", data=form, headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 403


# --------------------------------------------------------------------------------------------
# The printable sheet
# --------------------------------------------------------------------------------------------


async def test_the_sheet_page(client: httpx.AsyncClient) -> None:
    created = await make(client, preset="article", seed=42, blanks=20)
    code = created["code"]
    response = await client.get(f"/sheets/{code}")
    assert response.status_code == 200
    html = response.text
    assert f"<strong data-code>{code}</strong>" in html
    assert len(re.findall(r'<g class="box" data-blank="\d+">', html)) == 20
    assert len(re.findall(r'<li class="blank" data-blank="\d+">', html)) == 20
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 14
    assert f"http://testserver/sheets/check?code={code}" in html
    assert '<link rel="stylesheet" href="/static/sheet.css">' in html
    for name in ("w11 = 0.44", "u32 = −0.74", "b(2)1 = 0.75", "x1 = 0.4", "t2 = 0.38", "η = 0.5"):
        assert name in html


async def test_the_sheet_page_shows_no_answer_and_no_seed(client: httpx.AsyncClient) -> None:
    for preset, seed in (("article", 3141592653), ("mazur", 2718281828), ("xor", 1414213562)):
        created = await make(client, preset=preset, seed=seed, blanks=20 if preset != "mazur" else 15)
        html = (await client.get(f"/sheets/{created['code']}")).text
        sheet = sheets.build(SheetSpec(preset, seed, 20 if preset != "mazur" else 15))
        assert leaks(html, sheet) == []
        assert str(seed) not in html


async def test_the_leak_check_would_see_an_answer() -> None:
    sheet = sheets.build(SheetSpec("article", 3, 5))
    value = sheet.answers()[0][1]
    assert leaks(f"<p>{notation.fmt(value)}</p>", sheet) != []


async def test_an_unknown_sheet_is_404(client: httpx.AsyncClient) -> None:
    for path in ("/sheets/0000-0000-0000", "/sheets/whatever", "/sheets/0000-0000-0000/key?token=x"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "There is no sheet" in response.text


# --------------------------------------------------------------------------------------------
# The key
# --------------------------------------------------------------------------------------------


async def test_the_key_page_shows_every_answer_with_its_working(client: httpx.AsyncClient) -> None:
    created = await make(client, preset="article", seed=8, blanks=12)
    response = await client.get(created["key_url"].removeprefix("http://testserver"))
    assert response.status_code == 200
    html = response.text
    sheet = sheets.build(SheetSpec("article", 8, 12))
    values = [float(v) for v in re.findall(r'<strong data-value="([^"]+)">', html)]
    assert values == [value for _, value in sheet.answers()]
    assert html.count('<mtable columnalign="right left"') == 12  # explain's working, one per blank
    assert f'href="http://testserver/sheets/{created["code"]}" data-sheet-url' in html


async def test_the_key_page_needs_its_token(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=9, blanks=4)
    other = await make(client, seed=10, blanks=4)
    for query in ("", "?token=", f"?token={other['key_token']}", f"?token={created['key_token'][:-1]}"):
        response = await client.get(f"/sheets/{created['code']}/key{query}")
        assert response.status_code == 403
        assert "This key needs its token" in response.text
        assert leaks(response.text, sheets.build(SheetSpec("article", 9, 4))) == []


# --------------------------------------------------------------------------------------------
# Check my sheet
# --------------------------------------------------------------------------------------------


async def test_the_check_form_asks_for_the_code_then_the_answers(client: httpx.AsyncClient) -> None:
    empty = await client.get("/sheets/check")
    assert empty.status_code == 200 and 'name="code"' in empty.text and 'name="a1"' not in empty.text
    created = await make(client, seed=21, blanks=6)
    typed = created["code"].lower().replace("-", " ")
    response = await client.get("/sheets/check", params={"code": typed})
    assert response.status_code == 200
    assert f'<input type="hidden" name="code" value="{created["code"]}">' in response.text
    assert [f'name="a{k}"' in response.text for k in range(1, 8)] == [True] * 6 + [False]
    missing = await client.get("/sheets/check", params={"code": "ZZZZ-ZZZZ-ZZZZ"})
    assert missing.status_code == 404 and "There is no sheet “ZZZZ-ZZZZ-ZZZZ”" in missing.text


async def test_checking_the_keys_values_scores_full_marks_with_a_decimal_comma(
    client: httpx.AsyncClient,
) -> None:
    created = await make(client, seed=22, blanks=8)
    sheet = sheets.build(SheetSpec("article", 22, 8))
    form = {"code": created["code"]}
    for k, (_, value) in enumerate(sheet.answers(), start=1):
        text = f"{value:.6g}"
        form[f"a{k}"] = text.replace(".", ",") if k % 2 else text.replace("-", "−")
    response = await client.post("/sheets/check", data=form)
    assert response.status_code == 200
    assert '<p class="score" role="status" data-score="8">8 of 8 right</p>' in response.text
    assert response.text.count('data-verdict="right"') == 8


async def test_wrong_and_missing_answers_are_marked_without_the_answer(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=23, blanks=5)
    sheet = sheets.build(SheetSpec("article", 23, 5))
    values = [value for _, value in sheet.answers()]
    form = {"code": created["code"], "a1": f"{values[0]:.6g}", "a2": f"{values[1] * 1.05:.6g}", "a3": ""}
    response = await client.post("/sheets/check", data=form)
    assert response.status_code == 200
    verdicts = re.findall(r'data-verdict="(\w+)"', response.text)
    assert verdicts == ["right", "wrong", "unanswered", "unanswered", "unanswered"]
    assert 'data-score="1"' in response.text
    # The answers typed are shown back (a1's is the answer itself); nothing else of the key.
    assert leaks(response.text.replace(form["a1"], ""), sheet) == []


async def test_an_answer_that_is_not_a_number_marks_nothing(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=24, blanks=3)
    response = await client.post(
        "/sheets/check", data={"code": created["code"], "a1": "0.5", "a2": "1,234.5"}
    )
    assert response.status_code == 422
    assert "“1,234.5” is not a number (write e.g. 0.1234 or 0,1234)" in response.text
    assert "Nothing was marked" in response.text and "data-verdict" not in response.text
    assert 'value="1,234.5"' in response.text


async def test_checking_an_unknown_code_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/sheets/check", data={"code": "nothing", "a1": "1"})
    assert response.status_code == 404 and "There is no sheet" in response.text


# --------------------------------------------------------------------------------------------
# The links from the visualizer
# --------------------------------------------------------------------------------------------


async def test_the_page_links_to_the_notebook_and_the_network_tab_to_sheets(
    client: httpx.AsyncClient,
) -> None:
    await page_session(client)
    page = await client.get("/")
    sid = re.search(r'data-session-id="([^"]+)"', page.text)
    assert sid is not None
    assert (
        f'<a href="/api/sessions/{sid.group(1)}/notebook" download id="notebook">Download notebook</a>'
        in page.text
    )
    network = await client.get("/", params={"tab": "network"})
    assert '<a href="/sheets/new" id="make-sheet">Make an exercise sheet</a>' in network.text
