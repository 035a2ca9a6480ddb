"""The page's view: the stages and buttons of each phase, the sample form, the watch's version."""

from __future__ import annotations

from typing import Any

import pytest

from app import figure, session
from app.errors import PhaseError
from app.session import Session
from app.web.views import page
from app.web.views.panel import View

PHASES = {
    "idle": lambda s: s,
    "forwarding": session.run_substep,
    "forward": session.run_forward,
    "backwarding": lambda s: session.run_substep(session.run_forward(s)),
    "backward": lambda s: session.run_backward(session.run_forward(s)),
    "updated": session.run_step,
}


@pytest.mark.parametrize(
    ("phase", "stages", "backward", "update"),
    [
        ("idle", ["next", "todo", "todo"], False, False),
        ("forwarding", ["running", "todo", "todo"], False, False),
        ("forward", ["done", "next", "todo"], True, False),
        ("backwarding", ["done", "running", "todo"], True, False),
        ("backward", ["done", "done", "next"], False, True),
        ("updated", ["done", "done", "done"], False, False),
    ],
)
def test_the_stages_and_buttons_of_each_phase(
    phase: str, stages: list[str], backward: bool, update: bool
) -> None:
    current: Session = PHASES[phase](session.create("p"))
    assert current.phase == phase
    assert [s.state for s in page.stages(current)] == stages
    allowed = page.allowed(current)
    assert (allowed["backward"], allowed["update"], allowed["forward"]) == (backward, update, True)
    # The buttons agree with the steps themselves: an allowed step runs, a refused one raises.
    assert backward == _runs(session.run_backward, current)
    assert update == _runs(session.run_update, current)


def _runs(step: object, current: Session) -> bool:
    try:
        step(current)  # type: ignore[operator]
    except PhaseError:
        return False
    return True


def test_undo_is_allowed_once_there_is_an_update() -> None:
    fresh = session.create("p")
    assert not page.allowed(fresh)["undo"]
    assert page.allowed(session.run_step(fresh))["undo"]


def test_the_sample_form_shows_the_session_or_what_was_typed() -> None:
    inputs, targets, eta = page.sample_fields(
        session.create("p"), {"x1": "abc"}, {"x1": "x1: “abc” is not a number"}
    )
    assert [(f.name, f.value, f.error) for f in inputs] == [
        ("x1", "abc", "x1: “abc” is not a number"),
        ("x2", "0.1", None),
    ]
    assert [f.value for f in targets] == ["0.01", "0.99"] and (eta.name, eta.value) == ("eta", "0.5")


def test_the_watch_compares_the_stores_version_of_the_session() -> None:
    """The page's watch sends back the store's stamp of the session (tests/test_store.py shows it
    changes with every change and with nothing else)."""
    assert page.context(session.create("p"), View(), version=7)["fingerprint"] == "7"


def test_only_the_open_tab_adds_its_view() -> None:
    current = session.create("p")
    assert "data_tab" in page.context(current, View(tab="data"))
    assert "data_tab" not in page.context(current, View(tab="work"))
    assert page.context(current, View(tab="gradients"))["gradients"] is not None


def test_a_page_action_builds_only_the_regions_it_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[str, ...]] = []
    real = figure.build

    def counting(current: Session, **options: Any) -> figure.Figure:
        built.append(tuple(options["orientations"]))
        return real(current, **options)

    monkeypatch.setattr(figure, "build", counting)
    current = session.run_forward(session.create("p"))
    status = page.context(current, View(), regions=("status",))
    assert {"stages", "fingerprint"} <= status.keys()
    assert not {"figure", "work", "substep", "inputs"} & status.keys() and built == []
    step = page.context(current, View(), regions=("diagram", "controls"), orientations=("portrait",))
    assert {"figure", "substep", "allowed"} <= step.keys() and not {"work", "stages", "inputs"} & step.keys()
    assert built == [("portrait",)]
    assert [d.orientation for d in step["figure"].drawings] == ["portrait"]
    whole = page.context(current, View())
    assert {"figure", "work", "stages", "fingerprint", "substep", "allowed", "inputs"} <= whole.keys()
    assert built[-1] == ("landscape", "portrait")


def test_the_figure_follows_the_view() -> None:
    current = session.run_forward(session.create("p"))
    assert page.figure_of(current, View()).mode == "diagram"
    assert page.figure_of(current, View(show="table")).mode == "table"
    matrix = page.figure_of(current, View(show="matrix", layer="1"))
    assert matrix.mode == "matrix" and matrix.layer == 1
