"""Presentation mode and the figure in a real Chromium: what a lecturer projects.

Every architecture the classroom issue names, in every phase, at 1280×720 and 1024×768: nothing
scrolls, no two texts of the figure overlap, every number is drawn at ≥ 18 px (1280×720) or
≥ 16 px (1024×768) and every unit name at ≥ 24 px, measured on what Chromium drew
(tests/layout_checks.py). Screenshots of each go to artifacts/presentation/ (git-ignored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from app.notation import fmt
from app.web.deps import COOKIE
from tests.browser import ARTIFACTS, LiveServer, Watched, api_state, click, open_context
from tests.layout_checks import assert_no_overlaps, assert_numbers_at_least, number_sizes

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "presentation"
#: Window sizes and the smallest a number may be drawn there.
SIZES = {(1280, 720): 18.0, (1024, 768): 16.0}
NAME_PIXELS = 24.0
#: The API calls that bring a fresh session to each phase ("substep" once: mid-way).
PHASES: dict[str, tuple[str, ...]] = {
    "idle": (),
    "forwarding": ("substep",),
    "forward": ("forward",),
    "backwarding": ("forward", "substep"),
    "backward": ("forward", "backward"),
    "updated": ("forward", "backward", "update"),
}
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "2-2-2": {"preset": "mazur"},
    "2-3-2": {},
    "2-4-4-1": {"layers": [2, 4, 4, 1], "target": [0.5]},
    "8-8-8-8-8-8": {"layers": [8] * 6, "input": [0.1 * k for k in range(8)], "target": [0.5] * 8},
}
#: What the figure shows for each: the labelled diagram, or (when the numbers cannot sit on the
#: edges at these sizes) the weight matrix. 2-4-4-1 has 28 edges: no placement keeps its labels
#: 18 px tall, apart and off its crossings, so it gets the matrix, as every network over 24 does.
MODES = {"2-2-2": "diagram", "2-3-2": "diagram", "2-4-4-1": "matrix", "8-8-8-8-8-8": "matrix"}

_NAMES = """() => {
  const out = [];
  for (const el of document.querySelectorAll('#diagram svg .node-name, #diagram svg .unit-name')) {
    if (el.getBoundingClientRect().width === 0) continue;
    const m = el.getScreenCTM();
    out.push(parseFloat(getComputedStyle(el).fontSize) * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c)));
  }
  return out;
}"""


def new_session(
    context: BrowserContext, live: LiveServer, body: dict[str, Any], calls: tuple[str, ...]
) -> str:
    """A session made through the API, stepped by ``calls``, and made the page's (the cookie)."""
    created = context.request.post(
        f"{live.url}/api/sessions", data=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert created.ok, created.text()
    sid: str = created.json()["id"]
    for call in calls:
        assert context.request.post(f"{live.url}/api/sessions/{sid}/{call}").ok
    context.add_cookies([{"name": COOKIE, "value": sid, "url": live.url}])
    return sid


def scroll_size(page: Page) -> list[int]:
    size: list[int] = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    return size


def name_sizes(page: Page) -> list[float]:
    sizes: list[float] = page.evaluate(_NAMES)
    return sizes


@pytest.fixture(scope="module")
def contexts(browser: Browser, live: LiveServer) -> Iterator[dict[tuple[int, int], Watched]]:
    opened = {
        size: open_context(browser, live, viewport={"width": size[0], "height": size[1]}) for size in SIZES
    }
    yield opened
    for w in opened.values():
        w.context.close()
        assert w.errors == [] and w.foreign == []


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_phase_reads_from_the_back_of_the_room(
    arch: str, contexts: dict[tuple[int, int], Watched], live: LiveServer
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for (width, height), least in SIZES.items():
        w = contexts[(width, height)]
        page = w.page
        for phase, calls in PHASES.items():
            new_session(w.context, live, ARCHITECTURES[arch], calls)
            page.goto(live.url + "/?present=1")
            where = f"{arch} {phase} at {width}×{height}"
            assert page.locator("body.present").count() == 1
            assert page.locator(f"#diagram.mode-{MODES[arch]}.phase-{phase}").count() == 1, where
            page.screenshot(path=str(SHOTS / f"{arch}-{width}x{height}-{phase}.png"))
            assert scroll_size(page) == [width, height], f"scrolls: {where}"
            assert_no_overlaps(page, "#diagram svg")
            sizes = assert_numbers_at_least(page, least, "#diagram svg")
            names = name_sizes(page)
            assert names and min(names) >= NAME_PIXELS - 1e-6, (where, min(names))
            if MODES[arch] == "diagram":
                # every weight has its number on its edge: one label per edge
                labels = page.locator("#diagram svg.landscape [data-label-for]").count()
                assert labels == page.locator("#diagram svg.landscape [data-edge]").count(), where
            assert sizes, where
            # the step buttons, the loss and the derivation stay; editing is tucked away
            for name in ("Forward", "Step", "Sub-step"):
                assert page.get_by_role("button", name=name, exact=True).is_visible(), (where, name)
            assert not page.get_by_role("button", name="Reset", exact=True).is_visible()
            assert not page.locator("#sample").is_visible()
            if phase != "idle":
                assert page.locator("#panel .derivation").first.is_visible(), where


def test_presentation_mode_by_toggle_key_and_url(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    page.goto(live.url + "/?tab=data")
    assert page.locator("body.present").count() == 0
    page.get_by_role("link", name="Present", exact=True).click()
    page.wait_for_selector("body.present")
    assert "present=1" in page.url and "tab=work" in page.url
    page.keyboard.press("p")  # and back
    page.wait_for_selector("body:not(.present)")
    assert "present" not in page.url
    page.keyboard.press("p")
    page.wait_for_selector("body.present")
    # in presentation mode the step keys still work, and the mode survives the htmx swaps
    page.keyboard.press("f")
    page.wait_for_selector('[data-node][data-layer="2"][data-activation]')
    assert page.locator("body.present").count() == 1
    assert page.locator('#controls input[name="present"]').get_attribute("value") == "1"
    page.goto(live.url + "/?present=1&tab=work")
    assert page.locator("body.present").count() == 1


def test_zoom_enlarges_the_numbers(browser: Browser, live: LiveServer) -> None:
    """Browser zoom makes CSS pixels bigger: the window is as many device pixels wide, fewer CSS
    pixels (1280 / 1.5), and the page must draw its numbers bigger in device pixels."""
    sizes = {}
    for zoom in (1.0, 1.5):
        w = open_context(
            browser,
            live,
            viewport={"width": round(1280 / zoom), "height": round(720 / zoom)},
            device_scale_factor=zoom,
        )
        new_session(w.context, live, {}, ("forward", "backward"))
        w.page.goto(live.url + "/?present=1")
        sizes[zoom] = min(s.size for s in number_sizes(w.page)) * zoom  # device pixels
        w.context.close()
        assert w.errors == []
    assert sizes[1.5] >= 1.25 * sizes[1.0], sizes


def test_dark_theme_follows_the_system_and_the_toggle(browser: Browser, live: LiveServer) -> None:
    def background(page: Page) -> str:
        colour: str = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        return colour

    dark, light = "rgb(22, 22, 26)", "rgb(255, 255, 255)"
    w = open_context(browser, live, color_scheme="dark")
    w.page.goto(live.url + "/?present=1")
    assert background(w.page) == dark
    # the halo under an edge's number follows the theme, its text stays readable
    assert w.page.evaluate("getComputedStyle(document.querySelector('.halo')).fill") == dark
    w.page.get_by_role("link", name="Light", exact=True).click()
    w.page.wait_for_url("**theme=light**")
    assert background(w.page) == light
    w.context.close()
    # without JavaScript, and against the system's preference, the link's parameter decides
    w = open_context(browser, live, color_scheme="light", java_script_enabled=False)
    w.page.goto(live.url + "/?theme=dark")
    assert background(w.page) == dark
    w.page.get_by_role("button", name="Forward", exact=True).click()
    w.page.wait_for_url("**theme=dark**")
    assert background(w.page) == dark
    w.context.close()


def test_reduced_motion_stops_the_highlight_animation(browser: Browser, live: LiveServer) -> None:
    for motion, expected in (("no-preference", "glow-in"), ("reduce", "none")):
        w = open_context(browser, live, reduced_motion=motion)
        new_session(w.context, live, {}, ("substep",))
        w.page.goto(live.url + "/?present=1")
        glow = w.page.locator("#diagram svg.landscape .glow").first
        assert glow.evaluate("el => getComputedStyle(el).animationName") == expected
        w.context.close()


def test_clicking_a_number_opens_its_working(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, {}, ("forward", "backward"))
    page.goto(live.url + "/?present=1")
    page.locator('#diagram [data-label-for="1,1,0"]').click()
    derivation = page.locator('.derivation[data-quantity="∂L/∂u21"]')
    derivation.wait_for()
    sid = page.get_attribute("main", "data-session-id")
    api = page.request.get(f"{live.url}/api/sessions/{sid}/explain?weight=1,1,0").json()
    assert float(derivation.get_attribute("data-result") or "nan") == api["result"]
    # a bias's number too
    page.locator("#diagram svg.landscape .bias-pick").first.click()
    page.locator('.derivation[data-quantity="∂L/∂b(1)1"]').wait_for()


def test_every_link_of_the_figure_says_its_numbers(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, {}, ("forward", "backward"))
    page.goto(live.url + "/")
    state = api_state(watched)
    link = page.get_by_role("link", name=f"w11 = {fmt(state['weights'][0][0][0])}", exact=False)
    expected = f"∂L/∂w11 = {fmt(state['backward']['weight_gradients'][0][0][0])}"
    assert expected in (link.first.get_attribute("aria-label") or "")
    # no link inside an element that claims to be an image
    assert page.locator('[role="img"] a').count() == 0
    # the labels that are links too are out of the tab order and of the accessibility tree
    labels = page.locator("svg.landscape a.label-pick")
    assert labels.count() == 12
    assert labels.evaluate_all(
        "els => els.every(a => a.tabIndex === -1 && a.getAttribute('aria-hidden') === 'true')"
    )


def test_matrix_view_picks_a_layer_and_opens_a_cells_working(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, ARCHITECTURES["8-8-8-8-8-8"], ("forward", "backward"))
    page.goto(live.url + "/?present=1")
    assert page.locator("#diagram.mode-matrix").count() == 1
    assert page.locator("#diagram [data-cell]").count() == 64
    page.get_by_role("link", name="w(3) 8×8: show this matrix").click()
    page.wait_for_selector('#diagram [data-cell][data-layer="2"]')
    assert page.locator('#controls input[name="layer"]').get_attribute("value") == "2"
    state = api_state(watched)
    cell = page.locator('#diagram [data-cell][data-from="3"][data-to="5"]')
    # after backward each cell holds ∂L/∂w, exactly the API's
    assert float(cell.get_attribute("data-value") or "nan") == state["backward"]["weight_gradients"][2][3][5]
    cell.click()
    page.locator('.derivation[data-quantity="∂L/∂w(3)46"]').wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "8-8-8-8-8-8-matrix-layer-3.png"))


def test_the_table_view_has_every_number(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, {}, ("forward", "backward"))
    page.goto(live.url + "/")
    page.locator(".figure-views").get_by_role("link", name="Table", exact=True).click()
    page.wait_for_selector("#diagram.mode-table")
    state = api_state(watched)
    rows = page.locator("table.weights tbody tr")
    assert rows.count() == 12
    for l, matrix in enumerate(state["weights"]):
        for i, row in enumerate(matrix):
            for j, weight in enumerate(row):
                cells = page.locator(f'tr[data-row="weight:{l},{i},{j}"] td').all_inner_texts()
                gradient = state["backward"]["weight_gradients"][l][i][j]
                assert cells[1:3] == [fmt(weight), fmt(gradient)]
    for l, deltas in enumerate(state["backward"]["deltas"]):
        for j, delta in enumerate(deltas):
            cells = page.locator(f'tr[data-row="unit:{l + 1},{j}"] td').all_inner_texts()
            assert cells[0] == fmt(state["forward"]["activations"][l + 1][j]) and cells[2] == fmt(delta)


def test_the_posts_names_for_mazurs_network(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, {"preset": "mazur"}, ())
    page.goto(live.url + "/")
    page.get_by_role("link", name="Post's names w1…w8").click()
    page.wait_for_selector('#controls input[name="names"][value="post"]', state="attached")
    # the post's w5 joins h1 to o1 and starts at 0.40; w2 joins i2 to h1 and starts at 0.20
    for key, name, value in (("1,0,0", "w5", "0.4"), ("0,1,0", "w2", "0.2"), ("1,1,1", "w8", "0.55")):
        assert (page.locator(f'#diagram [data-label-for="{key}"]').text_content() or "").split() == [
            name,
            value,
        ]
        assert page.get_by_role("link", name=f"{name} = {value}: show the working").count() == 1


def test_after_an_update_the_page_says_whose_loss_and_which_activations(
    watched: Watched, live: LiveServer
) -> None:
    page = watched.page
    new_session(watched.context, live, {}, ("forward", "backward", "update"))
    page.goto(live.url + "/")
    assert "before this update" in page.locator("#status .loss").inner_text()
    assert page.locator("#panel .derivation[data-quantity='L'] .stale-note").is_visible()
    assert page.locator("[data-node][data-stale]").count() == 5  # every unit after the inputs
    assert "forward pass before this update" in page.locator("#diagram figcaption").inner_text()
    click(page, "Forward")
    page.wait_for_selector("#diagram.phase-forward")
    assert page.locator("[data-node][data-stale]").count() == 0
    assert "before this update" not in page.locator("#status .loss").inner_text()


def test_batch_mode_says_which_sample_is_drawn(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    new_session(watched.context, live, {"preset": "xor"}, ("forward", "backward"))
    page.goto(live.url + "/")
    caption = page.locator("#diagram figcaption").inner_text()
    assert "Batch of 4: units show sample 1 (x = 0, 0)" in caption
    assert "gradients are means over all 4" in caption
    assert "mean over 4 samples" in page.locator("#status .loss").inner_text()


def test_a_phone_keeps_the_step_buttons_in_reach(browser: Browser, live: LiveServer) -> None:
    w = open_context(browser, live, viewport={"width": 390, "height": 844})
    page = w.page
    # A visit keeps no session until the visitor acts (the first action reloads the whole page):
    # act once first, so the clicks below are ordinary steps answered with regions.
    page.goto(live.url + "/")
    assert page.request.post(f"{live.url}/page/data/mode", form={"mode": "sgd"}).ok
    page.goto(live.url + "/")

    def in_view(selector: str) -> bool:
        box = page.locator(selector).bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844

    def shows_part_of_the_drawing() -> bool:
        """At least 300 px of the drawing are on screen above the buttons."""
        svg, bar = (
            page.locator("#diagram svg.portrait").bounding_box(),
            page.locator("#controls").bounding_box(),
        )
        assert svg is not None and bar is not None
        return min(svg["y"] + svg["height"], bar["y"]) - max(svg["y"], 0) >= 300

    drawing = page.locator("#diagram svg.portrait")
    for step in ("Forward", "Backward", "Update"):
        button = page.get_by_role("button", name=step, exact=True)
        box, svg = button.bounding_box(), drawing.bounding_box()
        assert box is not None and svg is not None
        assert box["y"] + box["height"] <= 844, f"{step} is below the screen"
        assert svg["y"] < box["y"] and svg["y"] + 200 < 844, "the diagram is in view above the buttons"
        button.click()
        page.wait_for_selector(f"#diagram.phase-{'updated' if step == 'Update' else step.lower()}")
        # an htmx answer for a phone carries the upright drawing only
        assert page.locator("#diagram svg.landscape").count() == 0
        assert shows_part_of_the_drawing()
    # scrolled to the bottom of the drawing, the buttons are still on screen
    drawing.evaluate("el => el.scrollIntoView({block: 'end'})")
    assert in_view("#controls .main-steps") and shows_part_of_the_drawing()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "step-through-390-sticky.png"))
    w.context.close()
    assert w.errors == [] and w.foreign == []


def test_turning_past_the_breakpoint_fetches_the_other_drawing(watched: Watched, live: LiveServer) -> None:
    page = watched.page
    # A visit keeps no session until the visitor acts (the first action reloads the whole page):
    # act once first, so the clicks below are ordinary steps answered with regions.
    page.goto(live.url + "/")
    assert page.request.post(f"{live.url}/page/data/mode", form={"mode": "sgd"}).ok
    page.goto(live.url + "/")
    click(page, "Forward")
    page.wait_for_selector("#diagram.phase-forward")
    # an htmx answer on a wide screen carries the wide drawing alone
    assert page.locator("#diagram svg.portrait").count() == 0
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_selector("#diagram svg.portrait", state="visible")
    assert page.locator("#diagram.phase-forward svg.landscape").count() == 0
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_selector("#diagram svg.landscape", state="visible")


def test_the_layer_picker_works_without_javascript(no_js: Watched, live: LiveServer) -> None:
    page = no_js.page
    new_session(no_js.context, live, ARCHITECTURES["8-8-8-8-8-8"], ("forward",))
    page.goto(live.url + "/")
    assert page.locator('#diagram [data-cell][data-layer="0"]').count() == 64
    with page.expect_navigation():
        page.get_by_role("link", name="w(4) 8×8: show this matrix").click()
    assert page.locator('#diagram [data-cell][data-layer="3"]').count() == 64
    assert "layer=3" in page.url
    # a step keeps the layer (the controls carry it)
    with page.expect_navigation():
        click(page, "Backward")
    assert page.locator('#diagram [data-cell][data-layer="3"][data-value]').count() == 64
