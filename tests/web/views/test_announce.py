"""What the live region says after each step."""

from __future__ import annotations

import pytest

from app import session
from app.notation import fmt
from app.web.views.announce import announcement
from tests.web.views.test_page import PHASES


@pytest.mark.parametrize(
    ("phase", "said"),
    [
        ("idle", "Update 0. Nothing computed yet: press Forward (or Sub-step). Next: forward."),
        ("forwarding", "Update 0. Forward: layer 1 computed, a(1) and h(1). Next: forward."),
        (
            "forward",
            "Update 0. Forward pass done: every a, every h and the loss. Loss L = {L}. Next: backward.",
        ),
        (
            "backwarding",
            "Update 0. Backward: δ(2) and the gradients of the weights into layer 2 computed. "
            "Loss L = {L}. Next: backward.",
        ),
        ("backward", "Update 0. Backward pass done: every δ and every gradient. Loss L = {L}. Next: update."),
        (
            "updated",
            "Update 1. Update done: every weight moved against its gradient (old → new). "
            "Loss L = {L}. Next: forward.",
        ),
    ],
)
def test_each_phase_is_said_in_one_sentence(phase: str, said: str) -> None:
    current = PHASES[phase](session.create("p"))
    loss = session.run_forward(session.create("p")).forward
    assert loss is not None and loss.loss is not None
    # the loss of the article's network on its sample, as the page rounds it
    assert announcement(current) == said.format(L=fmt(loss.loss))
    assert fmt(loss.loss) == "0.08366"
