"""The Network tab's view: the form filled with the network, the data choices, the share link."""

from __future__ import annotations

import numpy as np

from app import datasets, session, share
from app.datasets import make_dataset
from app.web.views import network
from app.web.views.panel import View


def test_the_form_shows_the_current_network() -> None:
    current = session.create(
        "s", layers=[2, 4, 1], activation="relu", learning_rate=0.25, seed=3, target=[0.5]
    )
    tab = network.context(current, View(tab="network"))["network_tab"]
    assert (tab.layers.value, tab.learning_rate.value, tab.seed.value) == ("2, 4, 1", "0.25", "3")
    assert [o.value for o in tab.activation.options if o.selected] == ["relu"]
    assert tab.export_url == "/api/sessions/s/export" and tab.share is None


def test_the_data_choices_keep_the_data_or_start_from_a_builtin() -> None:
    choices = network.data_choices(session.create("s", dataset="xor", layers=[2, 3, 1]))
    assert list(choices) == ["current", "single", *datasets.BUILTIN]
    assert choices["current"] == "Keep the current data (XOR, 4 samples)"
    assert choices["circle"] == "Circle: 24 samples, 2 in, 1 out"


def test_a_share_link_or_why_there_is_none() -> None:
    current = session.create("s")
    link = network.share_link("http://host:8000/", current)
    assert link.path == f"/share/{share.encode(current)}" and link.url == f"http://host:8000{link.path}"
    rng = np.random.default_rng(1)
    table = make_dataset(rng.random((256, 8)).tolist(), rng.random((256, 1)).tolist())
    too_big = network.share_link("http://host/", session.create("t", layers=[8, 8, 1], dataset=table))
    assert too_big.url is None and too_big.error is not None and "export it as a file" in too_big.error


def test_the_tab_view_has_nothing_selected() -> None:
    view = network.tab_view({"tab": "work", "select": "loss", "quiz": "1", "answer": "0.1"})
    assert view == View(tab="network", select="", quiz=True, answer="")
