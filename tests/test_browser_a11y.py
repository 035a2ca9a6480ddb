"""Accessibility checked by axe-core (the npm registry's, pinned as a dev dependency in
package.json, injected into the page): no serious or critical violation on the page in every
phase with each tab open, on a phone, in the questions asked before Reset and a new network, with
the follow link shown, and on the follow view; and each step is said in a live region.

The context bypasses the page's Content-Security-Policy only so that axe's script can be injected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from app.resources import CHECKOUT
from tests.browser import LiveServer, Watched, api_state, click, open_context, open_kept

pytestmark = pytest.mark.browser

AXE = CHECKOUT / "node_modules" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")
#: The API calls that bring a fresh session to each phase (mid sub-step: forwarding, backwarding).
PHASES = {
    "idle": [],
    "forwarding": ["substep"],
    "forward": ["forward"],
    "backwarding": ["forward", "substep"],
    "backward": ["forward", "backward"],
    "updated": ["forward", "backward", "update"],
}
TABS = ("work", "data", "gradients", "train", "network")

VIEWPORTS = {"desktop": {"width": 1280, "height": 720}, "phone": {"width": 390, "height": 844}}


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now: rule, impact, targets."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(' ')),
        }))"""
    )
    return [v for v in found if v["impact"] in SEVERE]


class Audit:
    """Runs axe on page after page and keeps what it found, by where."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, page: Page, where: str) -> None:
        for v in violations(page):
            self.failures.append(f"{where}: {v['id']} ({v['impact']}): {v['help']} at {v['targets'][:3]}")

    def finish(self) -> None:
        assert self.failures == []


@pytest.fixture
def axe_page(browser: Browser, live: LiveServer, request: pytest.FixtureRequest) -> Iterator[Watched]:
    viewport: str = request.param
    watched = open_context(browser, live, viewport=VIEWPORTS[viewport], bypass_csp=True)
    yield watched
    watched.context.close()
    assert watched.errors == [] and watched.foreign == []


@pytest.mark.parametrize("axe_page", ["desktop", "phone"], indirect=True)
def test_no_serious_violation_in_any_phase_or_tab(axe_page: Watched, live: LiveServer) -> None:
    page = axe_page.page
    viewport = "phone" if page.viewport_size == VIEWPORTS["phone"] else "desktop"
    audit = Audit()
    for phase, actions in PHASES.items():
        sid = page.request.post(f"{live.url}/api/sessions").json()["id"]
        for action in actions:
            assert page.request.post(f"{live.url}/api/sessions/{sid}/{action}").ok
        axe_page.context.add_cookies([{"name": "bpv_session", "value": sid, "url": live.url}])
        tabs = TABS if viewport == "desktop" else ("work", "train")
        for tab in tabs:
            page.goto(f"{live.url}/?tab={tab}&select=weight:0,0,0")
            assert api_state(axe_page)["phase"] == phase
            audit.check(page, f"{phase}, tab {tab}")
    audit.finish()


@pytest.mark.parametrize("axe_page", ["desktop"], indirect=True)
def test_no_serious_violation_in_presentation_mode(axe_page: Watched, live: LiveServer) -> None:
    """Presentation mode in every phase, light and dark, for a diagram and for the weight matrix."""
    page = axe_page.page
    audit = Audit()
    for layers in ([2, 3, 2], [8, 8, 8, 8, 8, 8]):
        sample = {"input": [0.5] * layers[0], "target": [0.5] * layers[-1]}
        for phase, actions in PHASES.items():
            created = page.request.post(f"{live.url}/api/sessions", data={"layers": layers, **sample})
            assert created.ok, created.text()
            sid = created.json()["id"]
            for action in actions:
                assert page.request.post(f"{live.url}/api/sessions/{sid}/{action}").ok
            axe_page.context.add_cookies([{"name": "bpv_session", "value": sid, "url": live.url}])
            for theme in ("light", "dark"):
                page.goto(f"{live.url}/?present=1&theme={theme}")
                assert page.locator("body.present").count() == 1
                audit.check(page, f"{'-'.join(map(str, layers))}, {phase}, presenting, {theme}")
    audit.finish()


@pytest.mark.parametrize("axe_page", ["desktop"], indirect=True)
def test_no_serious_violation_in_the_questions_and_the_follow_link(
    axe_page: Watched, live: LiveServer
) -> None:
    page = axe_page.page
    audit = Audit()
    page.goto(live.url + "/")
    click(page, "Step")
    page.wait_for_selector('[data-step="1"]')
    click(page, "Reset")
    page.get_by_role("alertdialog").wait_for()
    audit.check(page, "Reset asks first")
    page.goto(live.url + "/?tab=network")
    click(page, "Start this network")
    page.get_by_role("alertdialog").wait_for()
    audit.check(page, "a new network asks first")
    page.get_by_role("link", name="Follow link").click()
    page.locator("#follow [data-follow-url]").wait_for()
    audit.check(page, "the follow link shown")
    audit.finish()


@pytest.mark.parametrize("axe_page", ["desktop", "phone"], indirect=True)
def test_no_serious_violation_on_the_follow_view(axe_page: Watched, live: LiveServer) -> None:
    page = axe_page.page
    state = page.request.post(f"{live.url}/api/sessions").json()
    page.goto(live.url + state["follow_url"])
    page.locator("#follow-view [data-step]").wait_for()
    for action, shown in (
        ("forward", "[data-loss]"),
        ("backward", "[data-gradient]"),
        ("update", '[data-step="1"]'),
    ):
        assert page.request.post(f"{live.url}/api/sessions/{state['id']}/{action}").ok
        page.locator(f"#follow-view {shown}").first.wait_for(state="attached")
        found = violations(page)
        assert found == [], (action, found)


def test_each_step_is_said_in_a_live_region(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    region = page.locator("#announce")
    assert region.get_attribute("role") == "status" and region.inner_text() == ""
    click(page, "Forward")
    page.wait_for_function("() => document.querySelector('#announce').textContent.includes('Forward pass')")
    state = api_state(watched)
    assert region.inner_text().startswith(
        "Update 0. Forward pass done: every a, every h and the loss. Loss L = "
    )
    assert region.inner_text().endswith("Next: backward.")
    assert state["phase"] == "forward"
    click(page, "Sub-step")
    page.wait_for_function("() => document.querySelector('#announce').textContent.includes('Backward: δ(2)')")
    # the same element all along: only its text changes, so a screen reader reads each change
    assert page.evaluate("() => document.querySelectorAll('#announce').length") == 1
