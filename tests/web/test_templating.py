"""Regions named once: the table of what each kind of change shows, the request's own region first."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request

from app.resources import TEMPLATES
from app.web.templating import REGIONS, SHOWN, own_region, regions_of


def request_with(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("shown", "own", "regions"),
    [
        ("session", "diagram", ("diagram", "status", "controls", "sample", "panel", "announce")),
        ("session", "sample", ("sample", "diagram", "status", "controls", "panel", "announce")),
        ("session", "panel", ("panel", "diagram", "status", "controls", "sample", "announce")),
        ("view", "panel", ("panel", "diagram", "controls")),
        ("poll", "panel", ("panel", "diagram", "status", "controls")),
        ("poll", "status", ("status", "diagram", "controls", "panel")),
        ("notice", "diagram", ("diagram", "status")),
        ("form", "sample", ("sample",)),
    ],
)
def test_an_answer_carries_its_own_region_first(shown: str, own: str, regions: tuple[str, ...]) -> None:
    assert regions_of(shown, own) == regions  # type: ignore[arg-type]


def test_only_a_poll_or_a_view_leaves_the_sample_form_alone() -> None:
    assert "sample" in SHOWN["session"]
    assert "sample" not in SHOWN["poll"] and "sample" not in SHOWN["view"]


def test_only_a_change_of_the_session_is_said_out_loud() -> None:
    assert [shown for shown, regions in SHOWN.items() if "announce" in regions] == ["session"]


def test_the_own_region_is_htmxs_target_when_it_names_one() -> None:
    assert own_region(request_with({"HX-Target": "panel"}), "diagram") == "panel"
    assert own_region(request_with({}), "diagram") == "diagram"
    assert own_region(request_with({"HX-Target": "not-a-region"}), "sample") == "sample"


def test_each_region_is_a_block_an_element_id_and_a_target() -> None:
    templates = "".join(path.read_text(encoding="utf-8") for path in TEMPLATES.glob("*.html"))
    page = (TEMPLATES / "page.html").read_text(encoding="utf-8")
    for name in REGIONS:
        assert f"{{% block {name} %}}" in page, name
        assert re.search(rf'\bid="{name}"', templates), name
    targets = set(re.findall(r'hx-target="#([a-z-]+)"', templates))
    assert targets <= set(REGIONS)
    assert {"diagram", "sample", "panel"} <= targets
