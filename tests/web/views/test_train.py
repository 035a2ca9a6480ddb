"""The Train tab's view: the history timeline."""

from __future__ import annotations

from app import session
from app.web.views import train


def test_timeline_points_at_the_current_kept_step() -> None:
    s = session.create("t")
    assert train.timeline(s) == train.Timeline((0,), 0)
    for _ in range(3):
        s = session.run_step(s)
    assert train.timeline(s) == train.Timeline((0, 1, 2, 3), 3)
    s = session.restore(s, 1)
    assert train.timeline(s) == train.Timeline((0, 1, 2, 3), 1)
