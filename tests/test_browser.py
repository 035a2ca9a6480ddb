"""The step-through page in a real Chromium (Debian's), driven by Playwright.

Checks what only a browser can: htmx swaps the regions in place, the numbers in the diagram equal
the API's after every phase, the same works with JavaScript off, nothing goes to another host, no
console errors, and the default network fits a 1280×720 projector and a 390 px phone.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    Page,
)

from app.notation import fmt
from tests.browser import ARTIFACTS, LiveServer, Watched, api_state, click, open_context, open_kept

pytestmark = pytest.mark.browser


def diagram_numbers(page: Page) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    script = "els => els.map(e => Object.fromEntries(Object.entries(e.dataset)))"
    nodes: list[dict[str, str]] = page.eval_on_selector_all("[data-node]", script)
    edges: list[dict[str, str]] = page.eval_on_selector_all("[data-edge]", script)
    return nodes, edges


def assert_diagram_equals_api(page: Page, state: dict[str, Any]) -> None:
    nodes, edges = diagram_numbers(page)
    assert len(nodes) == sum(state["layers"])
    assert len(edges) == sum(a * b for a, b in zip(state["layers"], state["layers"][1:], strict=False))
    fwd, bwd = state["forward"], state["backward"]
    for node in nodes:
        l, j = int(node["layer"]), int(node["unit"])
        if fwd is None:
            assert "activation" not in node
        else:
            assert float(node["activation"]) == fwd["activations"][l][j]
        if bwd is not None and l > 0:
            assert float(node["delta"]) == bwd["deltas"][l - 1][j]
        else:
            assert "delta" not in node
    for edge in edges:
        l, i, j = int(edge["layer"]), int(edge["from"]), int(edge["to"])
        assert float(edge["weight"]) == state["weights"][l][i][j]
        if bwd is None:
            assert "gradient" not in edge
        else:
            assert float(edge["gradient"]) == bwd["weight_gradients"][l][i][j]
        if state["previous"] is not None:
            assert float(edge["oldWeight"]) == state["previous"]["weights"][l][i][j]


def test_forward_backward_update_numbers_equal_the_api(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    assert page.evaluate("typeof window.htmx") == "object", "htmx is served by the app and loaded"
    page.evaluate("window.__sameDocument = true")
    assert_diagram_equals_api(page, api_state(watched))

    click(page, "Forward")
    page.wait_for_selector('[data-node][data-layer="2"][data-activation]')
    state = api_state(watched)
    assert state["phase"] == "forward"
    assert_diagram_equals_api(page, state)
    assert page.locator("#status [data-loss]").get_attribute("data-loss") == repr(state["forward"]["loss"])

    click(page, "Backward")
    page.wait_for_selector("[data-edge][data-gradient]")
    state = api_state(watched)
    assert state["phase"] == "backward"
    assert_diagram_equals_api(page, state)

    click(page, "Update")
    page.wait_for_selector("[data-edge][data-old-weight]")
    state = api_state(watched)
    assert state["phase"] == "updated" and state["step"] == 1
    assert_diagram_equals_api(page, state)
    assert page.locator("[data-step]").inner_text() == "1"
    assert page.evaluate("window.__sameDocument") is True, "htmx swapped regions; the page never reloaded"
    assert page.get_by_role("button", name="Backward", exact=True).is_disabled()
    assert page.get_by_role("button", name="Update", exact=True).is_disabled()


def test_a_visit_keeps_its_session_at_the_first_action(watched: Watched, live: LiveServer) -> None:
    """Opening the page stores nothing; the first click keeps the network shown, and the whole page
    comes back carrying the new session's id, with a Session JSON link that shows it."""
    page = watched.page
    page.goto(live.url + "/")
    assert page.get_attribute("html", "data-session-id") == ""
    assert page.locator("#session-json").count() == 0
    assert watched.context.cookies() == []
    click(page, "Step")
    page.wait_for_selector('[data-step="1"]')
    sid = page.get_attribute("html", "data-session-id")
    assert sid and page.get_attribute("main", "data-session-id") == sid
    assert [c["value"] for c in watched.context.cookies()] == [sid]
    link = page.locator("#session-json").get_attribute("href")
    shown = page.request.get(live.url + (link or ""))
    assert shown.ok and shown.json()["id"] == sid and shown.json()["step"] == 1


def test_every_step_works_with_javascript_disabled(no_js: Watched, live: LiveServer) -> None:
    page = no_js.page
    page.goto(live.url + "/")
    for name, phase in [("Forward", "forward"), ("Backward", "backward"), ("Update", "updated")]:
        with page.expect_navigation():
            click(page, name)
        state = api_state(no_js)
        assert state["phase"] == phase
        assert_diagram_equals_api(page, state)
    with page.expect_navigation():
        click(page, "Reset")
    assert api_state(no_js)["phase"] == "updated"  # asked first
    with page.expect_navigation():
        click(page, "Yes, reset")
    assert api_state(no_js)["phase"] == "idle"


def test_invalid_input_gets_a_message_next_to_the_field(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    open_kept(watched)
    before = api_state(watched)
    page.get_by_role("link", name="Data", exact=True).click()
    page.wait_for_selector('input[name="x1"]')
    page.fill('input[name="x1"]', "one")
    page.fill('input[name="eta"]', "0")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_selector("#x1-error")
    assert "is not a number" in page.inner_text("#x1-error")
    assert "must lie in (0, 100]" in page.inner_text("#eta-error")
    assert api_state(watched) == before
    page.fill('input[name="x1"]', "0.5")
    page.fill('input[name="eta"]', "0.1")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_selector("#x1-error", state="detached")
    state = api_state(watched)
    assert state["input"][0] == 0.5 and state["learning_rate"] == 0.1
    # the console shows htmx's note on the 422; anything else would be an error
    watched.errors = [e for e in watched.errors if "422" not in e]


def test_keyboard_shortcuts_and_clicker_keys(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/")
    page.keyboard.press("f")
    page.wait_for_selector('[data-node][data-layer="2"][data-activation]')
    page.keyboard.press("b")
    page.wait_for_selector("[data-edge][data-gradient]")
    page.keyboard.press("u")
    page.wait_for_selector("[data-edge][data-old-weight]")
    assert api_state(watched)["step"] == 1
    page.keyboard.press("PageDown")  # a presenter's clicker: the next sub-step
    page.wait_for_selector("#diagram.phase-forwarding")
    assert api_state(watched)["phase"] == "forwarding"


def test_fits_a_projector_and_a_phone(browser: Browser, live: LiveServer) -> None:
    projector = open_context(browser, live)
    page = projector.page
    page.goto(live.url + "/")
    click(page, "Forward")
    page.wait_for_selector("[data-node][data-activation]")
    click(page, "Backward")
    page.wait_for_selector("[data-edge][data-gradient]")
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= 1280 and size[1] <= 720, f"scrolls at 1280×720: {size}"
    for name in ("Forward", "Backward", "Update", "Step", "Reset"):
        box = page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720, name
    svg = page.locator("svg.landscape").bounding_box()
    assert svg is not None and svg["width"] >= 800, "the diagram takes most of the screen"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "step-through-1280x720.png"))
    projector.context.close()
    assert projector.errors == [] and projector.foreign == []

    phone = open_context(browser, live)
    phone.page.set_viewport_size({"width": 390, "height": 844})
    phone.page.goto(live.url + "/")
    click(phone.page, "Forward")
    # on a phone the upright drawing is shown; the data attributes stay on the (hidden) wide one
    phone.page.wait_for_selector('[data-node][data-layer="2"][data-activation]', state="attached")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"horizontal scrolling on a phone: {width}px"
    portrait = phone.page.locator("svg.portrait").bounding_box()
    assert portrait is not None and portrait["width"] >= 360
    # a tap on a unit of the upright drawing opens its working too
    phone.page.locator("svg.portrait a.pick:has(g.node.layer-1)").first.click()
    phone.page.locator('.derivation[data-quantity="h1"]').wait_for()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.page.screenshot(path=str(ARTIFACTS / "step-through-390.png"), full_page=True)
    phone.context.close()
    assert phone.errors == [] and phone.foreign == []


def test_selecting_a_hidden_weight_shows_its_derivation(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/")
    click(page, "Forward")
    page.wait_for_selector('[data-node][data-layer="2"][data-activation]')
    click(page, "Backward")
    page.wait_for_selector("[data-edge][data-gradient]")
    page.evaluate("window.__sameDocument = true")
    # the number on the edge is the click target (it covers the middle of the line)
    page.locator('[data-label-for="0,0,0"]').click()
    derivation = page.locator('.derivation[data-quantity="∂L/∂w11"]')
    derivation.wait_for()
    sid = page.get_attribute("main", "data-session-id")
    api = page.request.get(f"{live.url}/api/sessions/{sid}/explain?weight=0,0,0").json()
    assert float(derivation.get_attribute("data-result") or "nan") == api["result"]
    assert derivation.locator("h2").inner_text() == api["title"]
    text = derivation.locator(".math").inner_text()
    for term in api["terms"]:  # every substituted number is on screen, rounded
        assert fmt(term["value"]).replace("−", "") in text.replace("−", "").replace("\n", ""), term
    box = derivation.locator("math").bounding_box()
    assert box is not None and box["height"] > 100, "the MathML is laid out by the browser"
    assert page.evaluate("window.__sameDocument") is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "working-panel-1280x720.png"))  # the README's screenshot

    # the keyboard reaches the same: Tab to an output weight, Enter
    page.locator('a.pick:has([data-edge][data-layer="1"][data-from="1"][data-to="0"])').focus()
    page.keyboard.press("Enter")
    page.locator('.derivation[data-quantity="∂L/∂u21"]').wait_for()
    api = page.request.get(f"{live.url}/api/sessions/{sid}/explain?weight=1,1,0").json()
    assert float(page.locator(".derivation").get_attribute("data-result") or "nan") == api["result"]

    # check my answer: right to 4 significant digits
    page.fill('input[name="answer"]', f"{api['result']:.4g}")
    page.get_by_role("button", name="Check").click()
    page.wait_for_selector('.verdict[data-correct="true"]')


def test_train_with_live_progress_then_undo(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=train")
    page.fill('input[name="epochs"]', "20000")
    page.get_by_role("button", name="Train", exact=True).click()
    progress = page.locator("#panel progress")
    progress.wait_for()
    first = int(page.locator("[data-steps-done]").get_attribute("data-steps-done") or "0")
    page.wait_for_function(
        f"() => {{ const e = document.querySelector('[data-steps-done]');"
        f" return e === null || Number(e.dataset.stepsDone) > {first}; }}"
    )
    page.wait_for_selector('[data-run-state="done"]', timeout=90_000)
    assert page.locator("#chart svg").get_attribute("data-count") == "20000"
    state = api_state(watched)
    assert state["step"] == 20000
    assert_diagram_equals_api(page, state)
    assert page.locator("[data-step]").inner_text() == "20000"

    click(page, "Undo")
    page.wait_for_selector('[data-step="19999"]')
    state = api_state(watched)
    assert state["step"] == 19999
    assert_diagram_equals_api(page, state)


def test_an_open_page_follows_the_api_and_then_keeps_still(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    sid = open_kept(watched, "/?tab=train")
    for _ in range(2):
        assert page.request.post(f"{live.url}/api/sessions/{sid}/step").ok
    page.wait_for_selector('[data-step="2"]', timeout=10_000)  # the watch polls every 2 s
    assert_diagram_equals_api(page, api_state(watched))
    # once caught up the page stays still: what a learner types is not wiped by the next polls
    page.fill('input[name="epochs"]', "42")
    page.wait_for_timeout(4500)
    assert page.input_value('input[name="epochs"]') == "42"


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)])
def test_derivations_wrap_inside_the_panel(browser: Browser, live: LiveServer, size: tuple[int, int]) -> None:
    """Each row of the working fits the panel's width (before, after Update "h1 = 0.523" was cut
    to "· 0" at its edge), on the default network and on one with 8 units a layer."""
    watched = open_context(browser, live, viewport={"width": size[0], "height": size[1]})
    page = watched.page
    for layers in ([2, 3, 2], [2, 8, 8, 2]):
        created = page.request.post(f"{live.url}/api/sessions", data={"layers": layers}).json()
        sid = created["id"]
        for action in ("forward", "backward", "update"):
            assert page.request.post(f"{live.url}/api/sessions/{sid}/{action}").ok
        watched.context.add_cookies([{"name": "bpv_session", "value": sid, "url": live.url}])
        depth = len(layers) - 1
        for select in ("weight:0,0,0", f"weight:{depth - 1},0,0", "unit:1,0", "bias:0,0", "loss"):
            page.goto(f"{live.url}/?tab=work&select={select}")
            page.locator(".derivation .math").wait_for()
            widths = page.evaluate(
                "() => [...document.querySelectorAll('.derivation .math')]"
                ".map(e => [e.scrollWidth, e.clientWidth])"
            )
            assert all(scroll <= client for scroll, client in widths), (layers, select, widths)
    watched.context.close()
    assert watched.errors == [] and watched.foreign == []
