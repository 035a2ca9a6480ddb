"""Exercise sheets in a real Chromium: the sheet prints on at most two pages of A4 and of Letter,
its MathML is laid out, and a lecturer and a student get through with JavaScript off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from app import sheets
from app.sheets import SheetSpec
from tests.browser import ARTIFACTS, LiveServer, Watched

pytestmark = pytest.mark.browser

#: A page object in a PDF ("/Type /Page", not the "/Type /Pages" tree above them).
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def make(page: Page, live: LiveServer, **body: object) -> dict[str, object]:
    response = page.request.post(f"{live.url}/api/sheets", data=body)
    assert response.status == 201, response.text()
    created: dict[str, object] = response.json()
    return created


@pytest.mark.parametrize(
    ("preset", "seed", "blanks"), [("article", 42, 20), ("xor", 5, 20), ("mazur", 3, 15), ("article", 1, 1)]
)
def test_the_sheet_prints_on_at_most_two_pages(
    watched: Watched, live: LiveServer, preset: str, seed: int, blanks: int
) -> None:
    page = watched.page
    created = make(page, live, preset=preset, seed=seed, blanks=blanks)
    page.goto(str(created["sheet_url"]))
    for paper in ("A4", "Letter"):
        pdf = page.pdf(format=paper)
        pages = len(PDF_PAGE.findall(pdf))
        assert 1 <= pages <= 2, f"{preset}, {blanks} blanks: {pages} pages of {paper}"
        if (preset, blanks, paper) == ("article", 20, "A4"):
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "sheet-article-20-blanks-a4.pdf").write_bytes(pdf)


def test_the_pdf_page_count_is_read_right(watched: Watched, live: LiveServer) -> None:
    """The counter sees more than two pages when there are: the key of the same sheet, with the
    full working of twenty blanks, is much longer."""
    page = watched.page
    created = make(page, live, preset="article", seed=42, blanks=20)
    page.goto(str(created["key_url"]))
    assert len(PDF_PAGE.findall(page.pdf(format="A4"))) > 2


def test_the_formulas_and_the_key_are_laid_out_as_mathematics(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    created = make(page, live, preset="article", seed=7, blanks=6)
    page.goto(str(created["sheet_url"]))
    fraction = page.locator(".formulas mfrac").first.bounding_box()
    assert fraction is not None and fraction["height"] > 25, (
        "MathML fractions stack numerator over denominator"
    )
    page.goto(str(created["key_url"]))
    working = page.locator(".working .math math").first.bounding_box()
    assert working is not None and working["height"] > 60


def test_a_lecturer_and_a_student_without_javascript(no_js: Watched, live: LiveServer) -> None:
    page = no_js.page
    page.goto(f"{live.url}/?tab=network")
    page.get_by_role("link", name="Make an exercise sheet").click()
    page.select_option('select[name="preset"]', "article")
    page.fill('input[name="seed"]', "77")
    page.fill('input[name="blanks"]', "4")
    page.get_by_label("Update").uncheck()
    page.get_by_role("button", name="Make the sheet").click()
    page.wait_for_url(re.compile(r"/sheets/[0-9A-Z-]{14}/key\?token="))
    code = page.locator("[data-code]").inner_text()
    sheet = sheets.build(SheetSpec("article", 77, 4, ("forward", "backward")))
    shown = [
        float(v) for v in page.locator("[data-value]").evaluate_all("els => els.map(e => e.dataset.value)")
    ]
    assert shown == [value for _, value in sheet.answers()]

    page.get_by_role("link", name="The sheet to print").click()
    page.wait_for_url(f"{live.url}/sheets/{code}")
    assert page.locator(".blanks li").count() == 4

    # The student: the code as copied from paper, then the answers, one of them wrong.
    page.goto(f"{live.url}/sheets/check")
    page.fill('input[name="code"]', code.lower().replace("-", " "))
    page.get_by_role("button", name="Open").click()
    for k, (_, value) in enumerate(sheet.answers(), start=1):
        page.fill(f'input[name="a{k}"]', f"{value * (1.1 if k == 4 else 1):.5g}".replace(".", ","))
    page.get_by_role("button", name="Check my answers").click()
    page.wait_for_selector(".score")
    assert page.locator(".score").inner_text() == "3 of 4 right"
    verdicts = page.locator("[data-verdict]").evaluate_all("els => els.map(e => e.dataset.verdict)")
    assert verdicts == ["right", "right", "right", "wrong"]
