"""The follow view in a real Chromium: a student's view follows the presenter's steps (server-sent
events through htmx's SSE extension), on a projector-sized screen and on a phone, and the
presenter's "Follow link" shows the address and its QR code."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import ARTIFACTS, LiveServer, Watched, api_state, click, open_context, open_kept
from tests.test_browser import diagram_numbers

pytestmark = pytest.mark.browser


def follow_url_of(presenter: Watched) -> str:
    return f"{presenter.live.url}{api_state(presenter)['follow_url']}"


def wait_connected(page: Page) -> None:
    """Until the page's event stream is open (its first event has been swapped in)."""
    page.wait_for_function("() => document.querySelector('#follow-page') && window.htmx !== undefined")
    page.locator("#follow-view [data-step]").wait_for()


def test_the_follow_view_updates_after_each_presenter_step(
    browser: Browser, watched: Watched, live: LiveServer
) -> None:
    presenter = watched.page
    open_kept(watched)
    student = open_context(browser, live)
    student.page.goto(follow_url_of(watched))
    wait_connected(student.page)
    assert student.page.locator("button, form").count() == 0  # no step controls

    click(presenter, "Forward")
    student.page.wait_for_selector('#follow-view [data-node][data-layer="2"][data-activation]')
    state = api_state(watched)
    nodes, edges = diagram_numbers(student.page)
    assert [float(n["activation"]) for n in nodes if n["layer"] == "2"] == state["forward"]["activations"][2]
    assert student.page.locator("#follow-view [data-loss]").get_attribute("data-loss") == repr(
        state["forward"]["loss"]
    )
    student.page.wait_for_function(
        "() => document.querySelector('#follow-announce').textContent.includes('Forward pass done')"
    )
    assert student.page.locator('.derivation[data-quantity="L"]').count() == 1

    click(presenter, "Backward")
    student.page.wait_for_selector("#follow-view [data-edge][data-gradient]")
    click(presenter, "Update")
    student.page.wait_for_selector('#follow-view [data-step="1"]')
    state = api_state(watched)
    nodes, edges = diagram_numbers(student.page)
    for edge in edges:
        l, i, j = int(edge["layer"]), int(edge["from"]), int(edge["to"])
        assert float(edge["weight"]) == state["weights"][l][i][j]
    assert student.page.locator('.derivation[data-quantity="u11"]').count() == 1
    student.context.close()
    assert student.errors == [] and student.foreign == []


def test_the_follow_view_works_on_a_phone(browser: Browser, watched: Watched, live: LiveServer) -> None:
    watched.page.goto(live.url + "/")
    click(watched.page, "Forward")
    watched.page.wait_for_selector("[data-node][data-activation]")
    phone = open_context(
        browser, live, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone.page.goto(follow_url_of(watched))
    wait_connected(phone.page)
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"horizontal scrolling on a phone: {width}px"
    portrait = phone.page.locator("#follow-view svg.portrait").bounding_box()
    assert portrait is not None and portrait["width"] >= 360
    assert phone.page.locator("#follow-view .loss").is_visible()
    click(watched.page, "Backward")
    phone.page.wait_for_selector("#follow-view [data-edge][data-gradient]", state="attached")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    phone.page.screenshot(path=str(ARTIFACTS / "follow-390.png"), full_page=True)
    phone.context.close()
    assert phone.errors == [] and phone.foreign == []


def test_the_follow_link_button_shows_the_address_and_its_qr_code(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("link", name="Follow link").click()
    address = page.locator("#follow [data-follow-url]")
    address.wait_for()
    assert address.get_attribute("href") == follow_url_of(watched)
    qr = page.locator("#follow .qr svg").bounding_box()
    assert qr is not None and 150 <= qr["width"] <= 300 and qr["width"] == qr["height"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "follow-link-1280x720.png"))
    page.get_by_role("link", name="Hide").click()
    page.locator("#follow [data-follow-url]").wait_for(state="detached")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, no reload
