"""The follow view: what a student following a presenter's session sees, and the follow link.

The view is the presenter's diagram (the same drawing and ``data-*`` numbers as the page's, without
the links that open a quantity's working in the page's panel), the stages and the loss, and the
derivation of what the last step computed. It depends on the session alone, never on who follows:
a server renders it once per change and sends that text to every follower. Anything to be kept from
the followers (numbers not revealed yet) must therefore be left out here, in :func:`context`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import segno

from app import figure
from app.session import PHASE_TABLE, Session
from app.web.views import panel
from app.web.views.announce import announcement
from app.web.views.page import stages
from app.web.views.panel import View


@dataclass(frozen=True)
class FollowLink:
    """A session's follow link, as the presenter shows it."""

    #: The view's path, ``/follow/<follow id>`` (what the state JSON's ``follow_url`` holds).
    path: str
    #: The absolute address students open.
    url: str
    #: The address as a QR code: inline SVG that scales to its box.
    qr_svg: str


def follow_link(path: str, url: str) -> FollowLink:
    return FollowLink(path, url, qr_svg(url))


@functools.lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """``url`` as a QR code in inline SVG (error correction M, a 2-module quiet zone drawn white, so
    it also scans on a dark page); sized by CSS through its viewBox."""
    code = segno.make(url, error="m", micro=False)
    return str(
        code.svg_inline(
            scale=1,
            border=2,
            dark="#000",
            light="#fff",
            omitsize=True,
            svgclass="qr",
            lineclass=None,
            title=None,
        )
    )


def context(current: Session) -> dict[str, Any]:
    """What templates/follow.html's view shows, from the session alone."""
    work = panel.work(current, View(tab="work", select=panel.auto_select(current)))
    return {
        "s": current,
        # The diagram's template reads the panel's view (for the selection); a follower has none.
        "view": View(),
        "follower": True,
        # Both drawings: every follower's screen picks one (the text is the same for all of them).
        "figure": figure.build(current),
        "stages": stages(current),
        "next_step": PHASE_TABLE[current.phase].next_step,
        "derivation": work.derivation or work.loss,
        "announcement": announcement(current),
    }
