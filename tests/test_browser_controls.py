"""The page's controls in a real Chromium, as a keyboard user and a lecturer use them: the focus
stays on a pressed button, a skip link reaches the controls, the timeline slider keeps the focus
across arrow keys, Reset asks first, and Cancel stops a background run even while the Train tab is
being redrawn."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, Watched, api_state, click, open_kept

pytestmark = pytest.mark.browser

#: Epochs of a run no test lets finish.
LONG = "100000"


def focused_id(page: Page) -> str:
    found: str = page.evaluate("document.activeElement ? document.activeElement.id : ''")
    return found


def assert_focused(page: Page, element_id: str) -> None:
    """The focus is on ``element_id``, waiting for it (htmx restores the focus after a swap, and
    moves it to an autofocus element once the swap has settled)."""
    expect(page.locator(f"#{element_id}")).to_be_focused()


def test_the_focus_stays_on_a_pressed_button(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    for name, after in [("Forward", '[data-next="backward"]'), ("Backward", '[data-next="update"]')]:
        click(page, name)
        page.wait_for_selector(after)
        # the controls were redrawn; the button pressed (Backward now waits its turn) keeps the focus
        assert_focused(page, f"{name.lower()}-button")
    assert page.get_by_role("button", name="Backward", exact=True).get_attribute("aria-disabled") == "true"
    page.keyboard.press("Enter")  # pressing a step that must wait does nothing
    page.keyboard.press("Shift+Tab")
    assert_focused(page, "forward-button")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert_focused(page, "update-button")
    page.keyboard.press("Enter")
    page.wait_for_selector('[data-step="1"]')
    assert_focused(page, "update-button")
    assert api_state(watched)["phase"] == "updated"


def test_a_skip_link_reaches_the_controls(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the controls"
    assert page.locator(".skip-link").is_visible()  # shown once focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert_focused(page, "forward-button")  # two Tabs and an Enter


def test_the_timeline_slider_keeps_the_focus_across_arrow_keys(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    sid = page.get_attribute("main", "data-session-id")
    assert page.request.post(f"{live.url}/api/sessions/{sid}/train", data={"epochs": 5}).ok
    assert page.request.post(f"{live.url}/api/sessions/{sid}/history/2/restore").ok
    page.goto(live.url + "/?tab=train")
    slider = page.locator("#timeline-index")
    slider.focus()
    for step in (3, 4, 5):
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f'[data-step="{step}"]')
        # The status lands out of band before the panel does: wait for the new slider itself (a
        # key pressed on the old one, about to be swapped out, would be lost with it).
        expect(slider).to_have_attribute("aria-valuetext", f"update {step}")
        assert_focused(page, "timeline-index")
    state = api_state(watched)
    assert (state["step"], state["phase"]) == (5, "updated")  # no sub-step taken by a stray key


def test_reset_asks_first(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    page.evaluate("window.__sameDocument = true")
    click(page, "Step")
    page.wait_for_selector('[data-step="1"]')
    click(page, "Reset")
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()
    assert "Reset to the start?" in dialog.inner_text()
    # htmx moves the focus to the autofocus element once the swap has settled, not as it lands.
    expect(page.get_by_role("link", name="Keep going")).to_be_focused()
    page.get_by_role("link", name="Keep going").click()
    dialog.wait_for(state="detached")
    assert api_state(watched)["step"] == 1
    click(page, "Reset")
    click(page, "Yes, reset")
    page.wait_for_selector('[data-step="0"]')
    assert api_state(watched)["phase"] == "idle"
    assert_focused(page, "reset-button")
    assert page.evaluate("window.__sameDocument") is True


def test_cancel_stops_a_run_even_while_a_poll_is_in_flight(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched, "/?tab=train")
    for _ in range(3):
        before = api_state(watched)["step"]
        page.fill('input[name="epochs"]', LONG)
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector('[data-run-state="running"]')
        page.wait_for_function(
            "() => Number(document.querySelector('[data-steps-done]')?.dataset.stepsDone) > 0"
        )
        # Press Cancel the moment a progress poll has been sent, before its answer redraws the tab.
        page.evaluate(
            """() => new Promise(resolve => {
                const press = (event) => {
                    if (!event.detail.pathInfo.requestPath.startsWith('/page/run')) return;
                    document.removeEventListener('htmx:beforeSend', press);
                    document.querySelector('#run-cancel button').click();
                    resolve();
                };
                document.addEventListener('htmx:beforeSend', press);
            })"""
        )
        page.wait_for_selector('[data-run-state="cancelled"]', timeout=20_000)
        sid = page.get_attribute("main", "data-session-id")
        run = page.request.get(f"{live.url}/api/sessions/{sid}/runs").json()
        assert run["state"] == "cancelled" and run["steps_done"] < run["steps_total"]
        assert api_state(watched)["step"] == before + run["steps_done"]  # nothing trained after it
