"""The browser measurements of tests/layout_checks.py, proven on a drawing made from app/labels.py:
the default network's labels placed at 18 units and shown 1.2 times enlarged in a 1280×720 window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from app.labels import Clearance, place_labels
from tests.layout_checks import (
    assert_no_overlaps,
    assert_numbers_at_least,
    number_sizes,
    overlaps,
    text_boxes,
)
from tests.scenes import scene, svg

pytestmark = pytest.mark.browser

FONT = 18.0
#: The 960×600 viewBox drawn into 1152×720 pixels.
SCALE = 1.2


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    drawing = scene((2, 3, 2), "landscape", FONT, ("−0.1234",))
    placed = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(FONT))
    assert placed is not None
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_content(
        '<!doctype html><body style="margin:0"><figure id="diagram" style="margin:0; width:1152px;'
        f' height:720px">{svg(drawing, placed)}</figure></body>'
    )
    page.wait_for_function("document.fonts.status === 'loaded'")
    yield page
    context.close()


def test_placed_labels_measure_apart_and_at_their_size(page: Page) -> None:
    boxes = assert_no_overlaps(page)
    # 12 edge labels, 5 bias captions, 2 targets
    assert len(boxes) == 19
    sizes = assert_numbers_at_least(page, 21.0)
    assert len(sizes) == 19 and all(s.size == pytest.approx(FONT * SCALE, abs=1e-3) for s in sizes)

    # each label is drawn where the placement says, inside its halo: the character model and the
    # baseline rule hold for the real font
    drawing = scene((2, 3, 2), "landscape", FONT, ("−0.1234",))
    placed = place_labels(drawing.labels, drawing.obstacles, drawing.bounds, Clearance.for_font(FONT))
    assert placed is not None
    by_key = {box.key: box for box in boxes if box.key}
    for place in placed:
        box = by_key[place.id]
        assert (box.left + box.right) / 2 == pytest.approx(place.x * SCALE, abs=0.5)
        assert (box.top + box.bottom) / 2 == pytest.approx(place.y * SCALE, abs=0.5)
        halo = place.halo
        assert halo.left * SCALE <= box.left and box.right <= halo.right * SCALE
        assert halo.top * SCALE <= box.top and box.bottom <= halo.bottom * SCALE


def test_the_checks_catch_an_overlap_and_a_small_number(page: Page) -> None:
    # move the label of w12 onto the label of w11
    page.evaluate(
        """() => {
          const [a, b] = document.querySelectorAll('text.number');
          b.setAttribute('y', a.getAttribute('y'));
          for (const span of b.querySelectorAll('tspan')) span.setAttribute('x', a.getAttribute('x'));
        }"""
    )
    with pytest.raises(
        AssertionError, match=r"^overlapping text: '−0.1234' \(number\) × '−0.1234' \(number\) by"
    ):
        assert_no_overlaps(page)
    assert len(overlaps(text_boxes(page))) == 1

    page.evaluate("() => document.querySelector('text.caption').setAttribute('font-size', '10')")
    with pytest.raises(AssertionError, match=r"^numbers under 18px: 'b 0.1234' at 12.00px$"):
        assert_numbers_at_least(page, 18.0)


def test_names_indices_are_not_numbers_and_rotation_does_not_fool_the_size(page: Page) -> None:
    page.evaluate(
        """() => {
          const svg = document.querySelector('#diagram svg');
          svg.insertAdjacentHTML('beforeend',
            '<text x="480" y="580" font-size="18">w<tspan class="sub" font-size="62%">11</tspan> 0.5</text>'
            + '<text x="800" y="560" font-size="18" transform="rotate(40 800 560)">0.25</text>');
        }"""
    )
    sizes = {s.text: s.size for s in number_sizes(page)}
    assert "11" not in sizes
    assert sizes["0.5"] == pytest.approx(21.6, abs=1e-3)
    assert sizes["0.25"] == pytest.approx(21.6, abs=1e-3)
    # while the rotated text's box is far taller than its font: why heights are not measured
    tilted = next(b for b in text_boxes(page) if b.text == "0.25")
    assert tilted.height > 1.5 * 21.6
    # the subscript's digits count when asked for
    with_indices = {s.text: s.size for s in number_sizes(page, skip="")}
    assert with_indices["11"] == pytest.approx(21.6 * 0.62, abs=1e-3)
