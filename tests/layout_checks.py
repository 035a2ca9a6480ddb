"""Measuring the rendered diagram in a browser: text boxes that must not overlap, numbers that must
not be too small.

Both are measured on what Chromium drew, in CSS pixels of the page (at a device scale factor of
1, screen pixels), so they hold whatever the viewBox, the CSS and the window size did to the SVG.

- Boxes: ``getBoundingClientRect()`` of every visible ``<text>``, which is the union of its glyph
  cells (advance × font ascent+descent) after every transform, the viewBox's included.
- Font sizes: the computed ``font-size`` of the element that holds a number's characters (in SVG
  user units, since inside an ``<svg>`` a CSS pixel is a user unit), times the scale of that
  element's ``getScreenCTM()`` (√|det|, which a rotation leaves alone). This is the robust one of
  the two ways the brief allows: a box's height depends on the font's ascent and descent (1.164 em
  for DejaVu Sans, other fonts differ), on how many lines a label has and on sub- and superscripts
  inside it, so it overstates or understates the size; font-size × scale is the size the glyphs
  were drawn at, exactly, whatever font was found. Browser zoom changes neither (it resizes CSS
  pixels themselves), so a zoom test must compare against the zoom factor.

A "number" is a text node that contains a digit; digits inside ``.sub``/``.sup`` tspans (the indices
of names like w₁₁) are names, not numbers, and can be left out with ``skip``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

_BOXES = """([root, skip]) => {
  const out = [];
  for (const svg of document.querySelectorAll(root)) {
    for (const el of svg.querySelectorAll('text')) {
      if (skip && el.closest(skip)) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;  // not rendered (a hidden drawing)
      out.push({text: el.textContent.trim(), cls: el.getAttribute('class') || '',
                key: el.dataset.labelFor || '', left: r.left, top: r.top, right: r.right, bottom: r.bottom});
    }
  }
  return out;
}"""

_SIZES = """([root, skip]) => {
  const out = [];
  for (const svg of document.querySelectorAll(root)) {
    const walker = document.createTreeWalker(svg, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!/[0-9]/.test(node.data) || !el.closest('text')) continue;
      if (skip && el.closest(skip)) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      if (el.closest('text').getBoundingClientRect().width === 0) continue;
      const m = el.getScreenCTM();
      const scale = Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
      out.push({text: node.data.trim(), size: parseFloat(style.fontSize) * scale});
    }
  }
  return out;
}"""


@dataclass(frozen=True)
class TextBox:
    """A drawn text's box in page pixels, and what it says (for messages)."""

    text: str
    cls: str
    key: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def overlap(self, other: TextBox) -> tuple[float, float]:
        """How far the two boxes reach into each other across and down (≤ 0: apart)."""
        across = min(self.right, other.right) - max(self.left, other.left)
        down = min(self.bottom, other.bottom) - max(self.top, other.top)
        return across, down


@dataclass(frozen=True)
class NumberSize:
    text: str
    #: The size the characters were drawn at, in page pixels.
    size: float


def text_boxes(page: Page, root: str = "#diagram svg", skip: str = "") -> list[TextBox]:
    """Every visible ``<text>`` under the SVGs matched by ``root`` (except inside ``skip``)."""
    found: list[dict[str, Any]] = page.evaluate(_BOXES, [root, skip])
    return [TextBox(**box) for box in found]


def number_sizes(page: Page, root: str = "#diagram svg", skip: str = ".sub, .sup") -> list[NumberSize]:
    """The drawn font size of every run of characters with a digit in it (see the module doc)."""
    found: list[dict[str, Any]] = page.evaluate(_SIZES, [root, skip])
    return [NumberSize(**size) for size in found]


def overlaps(boxes: list[TextBox], tolerance: float = 1.0) -> list[tuple[TextBox, TextBox]]:
    """The pairs that reach more than ``tolerance`` pixels into each other both ways (glyph cells
    include side bearings and line gaps, so boxes that merely touch are not a collision)."""
    return [(a, b) for a, b in itertools.combinations(boxes, 2) if min(a.overlap(b)) > tolerance]


def assert_no_overlaps(page: Page, root: str = "#diagram svg", tolerance: float = 1.0) -> list[TextBox]:
    """Fail, naming the texts, when two drawn texts overlap; return the boxes measured."""
    boxes = text_boxes(page, root)
    assert boxes, f"no text drawn under {root}"
    clashes = overlaps(boxes, tolerance)
    assert not clashes, "overlapping text: " + "; ".join(
        f"{a.text!r} ({a.cls}) × {b.text!r} ({b.cls}) by {min(a.overlap(b)):.1f}px" for a, b in clashes
    )
    return boxes


def assert_numbers_at_least(
    page: Page, pixels: float, root: str = "#diagram svg", skip: str = ".sub, .sup"
) -> list[NumberSize]:
    """Fail, naming them, when numbers are drawn smaller than ``pixels``; return the sizes."""
    sizes = number_sizes(page, root, skip)
    assert sizes, f"no numbers drawn under {root}"
    small = [s for s in sizes if s.size < pixels - 1e-6]
    assert not small, f"numbers under {pixels:g}px: " + ", ".join(
        f"{s.text!r} at {s.size:.2f}px" for s in small
    )
    return sizes
