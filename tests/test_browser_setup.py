"""The Data and Network tabs in a real Chromium (Debian's), driven by Playwright.

A preset opens in place of the old session, the decision map is redrawn by htmx after every step,
the architecture form builds the network the diagram then shows, and both tabs fit a 1280×720
projector (the panel scrolls inside itself) and a 390 px phone; no console errors, no requests to
other hosts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    Page,
)

from tests.browser import ARTIFACTS, LiveServer, Watched, api_state, click, open_context

pytestmark = pytest.mark.browser


def open_tab(page: Page, label: str) -> None:
    page.get_by_role("link", name=label, exact=True).click()
    page.wait_for_selector(f'.tab.current:text-is("{label}")')


def map_fills(page: Page) -> list[str]:
    fills: list[str] = page.eval_on_selector_all(
        ".decision-map .cells rect", "rects => rects.map(r => r.getAttribute('fill'))"
    )
    return fills


def start_preset(page: Page, title: str) -> None:
    """Start a preset from the Network tab, saying yes when asked (with or without JavaScript)."""
    click(page, f"Start from this preset: {title}")
    page.get_by_role("alertdialog").wait_for()
    with page.expect_navigation():
        click(page, "Yes, start it")


def test_xor_preset_then_the_decision_map_follows_the_steps(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=network")
    old = page.get_attribute("main", "data-session-id")
    start_preset(page, "XOR")
    assert page.get_attribute("main", "data-session-id") != old
    state = api_state(watched)
    assert state["layers"] == [2, 4, 1] and state["dataset"]["name"] == "xor"
    assert page.locator(".tagline").inner_text().startswith("2-4-1 network")

    open_tab(page, "Data")
    maps = page.locator(".decision-map > svg")
    assert maps.count() == 1
    assert page.locator(".decision-map .point").count() == 4
    assert page.locator(".decision-map .point.current").count() == 1
    assert page.locator(".samples tbody tr").count() == 4
    box = maps.bounding_box()
    assert box is not None and box["width"] >= 300, "the map is drawn at a legible size"
    before = map_fills(page)
    assert len(before) == 576

    page.evaluate("window.__sameDocument = true")
    for step in range(1, 4):
        click(page, "Step")
        page.wait_for_selector(f'[data-step="{step}"]')
        page.wait_for_selector(f'.decision-map title:text-matches("after {step} update")', state="attached")
    after = map_fills(page)
    assert len(after) == 576 and after != before
    assert page.evaluate("window.__sameDocument") is True, "htmx swapped the panel in place"
    assert api_state(watched)["step"] == 3


def test_the_architecture_form_builds_the_network(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=network")
    page.fill('input[name="layers"]', "2, 1")
    page.select_option('select[name="loss"]', "bce")
    page.select_option('select[name="output_activation"]', "tanh")
    click(page, "Start this network")
    page.wait_for_selector("#loss-error")
    assert "cross-entropy needs a sigmoid output layer" in page.inner_text("#loss-error")
    # the console shows htmx's note on the 422; anything else would be an error
    watched.errors = [e for e in watched.errors if "422" not in e]

    page.fill('input[name="layers"]', "2, 4, 1")
    page.select_option('select[name="output_activation"]', "sigmoid")
    page.select_option('select[name="activation"]', "tanh")
    page.select_option('select[name="data"]', "xor")
    click(page, "Start this network")
    page.get_by_role("alertdialog").wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Keep this network"
    with page.expect_navigation():
        click(page, "Yes, start it")
    assert page.locator("svg.landscape [data-node]").count() == 7
    assert page.locator("svg.landscape [data-edge]").count() == 12
    state = api_state(watched)
    assert (state["layers"], state["activation"], state["loss"]) == ([2, 4, 1], "tanh", "bce")
    assert state["dataset"]["name"] == "xor"


def test_share_link_opens_a_copy(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=network")
    start_preset(page, "Mazur's worked example")
    sid = page.get_attribute("main", "data-session-id")
    # stepped through the API and the page loaded afresh, so no watch request is in flight
    # (one sent before a change would redraw the panel, without the link, when it returns)
    assert page.request.post(f"{live.url}/api/sessions/{sid}/step").ok
    page.goto(live.url + "/?tab=network")
    original = api_state(watched)
    assert original["step"] == 1
    click(page, "Make a share link")
    url = page.locator("[data-share-url]").input_value()
    assert url.startswith(live.url + "/share/")
    page.goto(url)
    copy = api_state(watched)
    assert copy["id"] != original["id"] and copy["step"] == 0
    assert copy["weights"] == original["weights"] and copy["biases"] == original["biases"]


def test_a_downloaded_session_opens_again(watched: Watched, live: LiveServer, tmp_path: Path) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=network")
    start_preset(page, "XOR")
    sid = page.get_attribute("main", "data-session-id")
    for _ in range(2):  # through the API, then a fresh page: no watch request in flight
        assert page.request.post(f"{live.url}/api/sessions/{sid}/step").ok
    page.goto(live.url + "/?tab=network")
    original = api_state(watched)
    assert original["step"] == 2
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this session").click()
    saved = tmp_path / "session.json"
    download.value.save_as(saved)
    page.set_input_files('input[name="file"]', str(saved))
    with page.expect_navigation():
        click(page, "Open")
    copy = api_state(watched)
    assert copy["id"] != original["id"] and copy["follow_url"] != original["follow_url"]
    own = ("id", "follow_url")  # a copy is a session of its own, followed on its own
    assert {k: v for k, v in copy.items() if k not in own} == {
        k: v for k, v in original.items() if k not in own
    }

    # a file that is not a session: the reason, in place, and nothing changes
    bad = tmp_path / "notes.json"
    bad.write_text("these are not the weights")
    page.set_input_files('input[name="file"]', str(bad))
    click(page, "Open")
    page.wait_for_selector("#import-error")
    assert "Import: the file is not JSON" in page.inner_text("#import-error")
    assert api_state(watched)["id"] == copy["id"]
    watched.errors = [e for e in watched.errors if "422" not in e]


def test_choosing_a_sample_works_with_javascript_disabled(no_js: Watched, live: LiveServer) -> None:
    page = no_js.page
    page.goto(live.url + "/?tab=network")
    with page.expect_navigation():
        click(page, "Start from this preset: XOR")
    with page.expect_navigation():
        click(page, "Yes, start it")
    page.goto(live.url + "/?tab=data")
    with page.expect_navigation():
        click(page, "Sample 3: make it current")
    assert api_state(no_js)["sample_index"] == 2
    assert page.locator('.samples tr.current[data-sample="2"]').count() == 1
    assert page.locator('.decision-map .point.current[data-point="2"]').count() == 1
    with page.expect_navigation():
        click(page, "Batch")
    assert api_state(no_js)["mode"] == "batch"


@pytest.mark.parametrize("tab", ["data", "network"])
def test_the_tabs_fit_a_projector_and_a_phone(browser: Browser, live: LiveServer, tab: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    projector = open_context(browser, live)
    page = projector.page
    page.goto(live.url + "/?tab=network")
    start_preset(page, "XOR")
    page.goto(live.url + f"/?tab={tab}")
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= 1280 and size[1] <= 720, f"scrolls at 1280×720: {size}"
    body = page.evaluate(
        "(() => { const b = document.querySelector('.tab-body');"
        " return [b.scrollWidth, b.clientWidth, b.getBoundingClientRect().bottom]; })()"
    )
    assert body[0] <= body[1], "the panel scrolls sideways"
    assert body[2] <= 720
    page.screenshot(path=str(ARTIFACTS / f"{tab}-tab-1280x720.png"))
    projector.context.close()
    assert projector.errors == [] and projector.foreign == []

    phone = open_context(browser, live)
    phone.page.set_viewport_size({"width": 390, "height": 844})
    phone.page.goto(live.url + "/?tab=network")
    start_preset(phone.page, "XOR")
    phone.page.goto(live.url + f"/?tab={tab}")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"horizontal scrolling on a phone: {width}px"
    phone.page.screenshot(path=str(ARTIFACTS / f"{tab}-tab-390.png"), full_page=True)
    phone.context.close()
    assert phone.errors == [] and phone.foreign == []
