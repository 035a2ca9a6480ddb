"""The follow view: the derivation of what the last step computed, from the session alone; the
follow link's QR code."""

from __future__ import annotations

import re

import pytest
import segno

from app import session
from app.web.views import follow
from tests.web.views.test_page import PHASES


@pytest.mark.parametrize(
    ("phase", "quantity"),
    [
        ("idle", None),  # nothing computed yet
        ("forwarding", "h1"),  # the first unit of the layer a sub-step just computed
        ("forward", "L"),
        ("backwarding", "δ(2)1"),
        ("backward", "δ(1)1"),
        ("updated", "u11"),
    ],
)
def test_the_working_shown_is_of_what_the_last_step_computed(phase: str, quantity: str | None) -> None:
    context = follow.context(PHASES[phase](session.create("p")))
    derivation = context["derivation"]
    assert (None if derivation is None else derivation.quantity) == quantity
    assert context["follower"] is True and context["view"].select == ""


def test_the_view_depends_on_the_session_alone() -> None:
    current = session.run_forward(session.create("p"))
    assert follow.context(current)["announcement"] == follow.context(current)["announcement"]
    assert set(follow.context(current)) == {
        "s",
        "view",
        "follower",
        "figure",
        "stages",
        "next_step",
        "derivation",
        "announcement",
    }


def test_the_qr_code_is_the_address_with_a_white_quiet_zone() -> None:
    url = "http://192.168.1.20:8000/follow/AbCdEfGhIjKlMnOpQrStUv"
    link = follow.follow_link("/follow/AbCdEfGhIjKlMnOpQrStUv", url)
    code = segno.make(url, error="m", micro=False)
    side = code.symbol_size(scale=1, border=2)[0]
    assert isinstance(code.version, int)
    assert side == 4 * code.version + 17 + 4  # modules plus a 2-module border on each side
    assert re.match(
        rf'<svg viewBox="0 0 {side} {side}" class="qr"><path fill="#fff" d="M0 0h{side}v{side}h-{side}z"/>',
        link.qr_svg,
    )
    # Every dark module of the code is drawn: count them on the SVG's path (runs of "h" moves).
    dark = sum(sum(row) for row in code.matrix)
    runs = re.search(r'<path stroke="#000" d="([^"]+)"', link.qr_svg)
    assert runs is not None
    drawn = sum(int(n) for n in re.findall(r"h(\d+)", runs.group(1)))
    assert drawn == dark
    assert "width=" not in link.qr_svg  # sized by its box, through the viewBox
