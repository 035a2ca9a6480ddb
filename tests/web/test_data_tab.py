"""The Data tab's routes: the dataset, the mode, the current sample and the decision maps, with and
without htmx."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from app import decision, engine, session
from app.limits import (
    MAX_FORM_BYTES,
)
from app.store import MemoryStore
from app.web.deps import COOKIE
from tests.test_datasets import BAD_TABLES
from tests.web.page import (
    HX,
    api_state,
    assert_same_parameters,
    new_cookie,
    region_ids,
    text,
    use_session,
)

pytestmark = pytest.mark.anyio

CELL = re.compile(
    r'<rect x="([0-9.]+)" y="([0-9.]+)" width="[0-9.]+" height="[0-9.]+" fill="(#[0-9a-f]{6})"/>'
)


POINT = re.compile(r'<g class="point( current)?" data-point="(\d+)" data-target="([^"]+)"')


def cells_of(page: str) -> list[tuple[float, float, str]]:
    return [(float(x), float(y), fill) for x, y, fill in CELL.findall(page)]


def expected_cells(current: session.Session) -> list[tuple[float, float, str]]:
    return [(c.x, c.y, c.fill) for m in decision.build(current) for c in m.cells]


async def test_switching_to_xor_changes_the_dataset(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], input=[0.5, 0.5], target=[1.0])
    await client.post("/page/forward", headers=HX)
    response = await client.post("/page/data/dataset", data={"dataset": "xor", "tab": "data"}, headers=HX)
    assert response.status_code == 200
    assert region_ids(response.text) == [
        ("panel", False),
        ("dataset", False),
        ("diagram", True),
        ("status", True),
        ("controls", True),
        ("sample", True),  # the sample form shows the first sample of the new data
        ("announce", True),
    ]
    state = await api_state(client, sid)
    assert state["dataset"] == {
        "name": "xor",
        "inputs": [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        "targets": [[0.0], [1.0], [1.0], [0.0]],
    }
    assert state["sample_index"] == 0 and state["phase"] == "idle"
    assert 'data-dataset="xor"' in response.text
    assert "XOR, 4 samples" in response.text
    # and back to the single sample: the current one
    await client.post("/page/data/current", data={"sample_index": "2"}, headers=HX)
    await client.post("/page/data/dataset", data={"dataset": "single"}, headers=HX)
    state = await api_state(client, sid)
    assert state["dataset"] is None
    assert (state["input"], state["target"]) == ([1.0, 0.0], [1.0])


async def test_a_dataset_that_does_not_fit_is_refused_with_a_hint(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store)  # the article's 2-3-2
    before = await api_state(client, sid)
    page = text(await client.get("/?tab=data"))
    assert "needs 2 inputs and 1 output" in page  # marked in the list before choosing
    response = await client.post("/page/data/dataset", data={"dataset": "xor", "tab": "data"}, headers=HX)
    assert response.status_code == 422
    assert region_ids(response.text) == [("panel", False), ("dataset", False)]
    assert (
        "XOR has 2 inputs and 1 target per sample, but this 2-3-2 network has 2 inputs and 2 outputs: "
        "build a 2-…-1 network in the Network tab"
    ) in text(response)
    assert 'id="dataset-error"' in response.text
    assert await api_state(client, sid) == before


async def test_a_table_is_parsed_and_used(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    table = "0 0 ; 0\n0.5, 0.5 ; 1\n1 1 ; 0"
    response = await client.post("/page/data/dataset", data={"dataset": "table", "table": table}, headers=HX)
    assert response.status_code == 200
    state = await api_state(client, sid)
    assert state["dataset"] == {
        "name": None,
        "inputs": [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]],
        "targets": [[0.0], [1.0], [0.0]],
    }
    assert 'data-dataset="table"' in response.text
    assert "Your own table, 3 samples" in text(response)
    assert ">0 0 ; 0\n0.5 0.5 ; 1\n1 1 ; 0</textarea>" in response.text


@pytest.mark.parametrize("htmx", [True, False])
@pytest.mark.parametrize(
    ("table", "message"),
    [
        *BAD_TABLES,
        (
            "0 0 0 ; 1",
            "The table has 3 inputs and 1 target per sample, but this 2-3-1 network has 2 inputs and "
            "1 output: build a 3-…-1 network in the Network tab",
        ),
    ],
)
async def test_a_bad_table_is_shown_next_to_the_field_and_changes_nothing(
    client: httpx.AsyncClient, store: MemoryStore, table: str, message: str, htmx: bool
) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    await client.post("/page/step", headers=HX)
    before = await api_state(client, sid)
    response = await client.post(
        "/page/data/dataset", data={"dataset": "table", "table": table}, headers=HX if htmx else {}
    )
    assert response.status_code == 422
    assert message in text(response)
    assert 'id="table-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert await api_state(client, sid) == before
    if htmx:
        assert response.text.lstrip().startswith('<section id="panel"')
        if len(table) < 1000:  # the user's text comes back, to be corrected
            assert f">{html.escape(table, quote=False)}</textarea>" in response.text
    else:
        assert "<html" in response.text


@pytest.mark.parametrize("choice", ["", "spiral", "table\x00"])
async def test_an_unknown_choice_is_refused(
    client: httpx.AsyncClient, store: MemoryStore, choice: str
) -> None:
    sid = use_session(client, store)
    before = await api_state(client, sid)
    response = await client.post("/page/data/dataset", data={"dataset": choice}, headers=HX)
    assert response.status_code == 422
    assert "Choose the single sample, a built-in dataset or your own table" in response.text
    assert await api_state(client, sid) == before


async def test_a_huge_form_is_refused_before_it_is_read(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store)
    before = await api_state(client, sid)
    body = "dataset=table&table=" + "0" * (MAX_FORM_BYTES + 1)
    response = await client.post(
        "/page/data/dataset",
        content=body,
        headers={**HX, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert "Table: the form is larger than 256 KB" in response.text
    assert await api_state(client, sid) == before
    broken = await client.post(
        "/page/data/dataset", content=b"--x\r\n", headers={**HX, "Content-Type": "multipart/form-data"}
    )
    assert broken.status_code == 422
    assert "Table: the form could not be read (Missing boundary in multipart.)" in broken.text
    stray = await client.post(
        "/page/data/dataset", data={"dataset": "single"}, files={"table": ("t.txt", b"0 0 ; 1")}, headers=HX
    )
    assert stray.status_code == 200  # the file part is ignored (and closed)
    assert await api_state(client, sid) == {**before, "phase": "idle"}


async def test_mode_switch(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    response = await client.post("/page/data/mode", data={"mode": "batch", "tab": "data"}, headers=HX)
    assert response.status_code == 200
    assert (await api_state(client, sid))["mode"] == "batch"
    assert 'value="batch" title="Batch: every sample at once, the mean gradient" aria-pressed="true"' in (
        response.text
    )
    stepped = (await client.post(f"/api/sessions/{sid}/forward")).json()
    assert stepped["forward"]["batch_size"] == 4
    await client.post("/page/data/mode", data={"mode": "sgd"}, headers=HX)
    assert (await api_state(client, sid))["mode"] == "sgd"
    before = await api_state(client, sid)
    refused = await client.post("/page/data/mode", data={"mode": "adam"}, headers=HX)
    assert refused.status_code == 422
    assert "Mode: choose sgd or batch" in refused.text
    assert await api_state(client, sid) == before


async def test_choosing_the_current_sample(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    response = await client.post("/page/data/current", data={"sample_index": "2", "tab": "data"}, headers=HX)
    assert response.status_code == 200
    state = await api_state(client, sid)
    assert state["sample_index"] == 2
    assert (state["input"], state["target"]) == ([1.0, 0.0], [1.0])
    assert '<tr data-sample="2" class="current" aria-current="true" data-upcoming>' in response.text
    assert len(re.findall(r'<g class="point current"', response.text)) == 1
    assert '<g class="point current" data-point="2"' in response.text
    assert POINT.findall(response.text)[-1] == (" current", "2", "1.0")  # drawn last: its ring on top
    # In SGD mode the current sample is the one the next step uses.
    stepped = (await client.post(f"/api/sessions/{sid}/step")).json()
    assert stepped["sample_index"] == 2
    assert stepped["forward"]["activations"][0] == [1.0, 0.0]


async def test_in_sgd_mode_the_next_sample_is_marked(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    page = (await client.get("/?tab=data")).text
    assert re.findall(r'<tr data-sample="(\d)"[^>]* data-upcoming>', page) == ["0"]
    response = await client.post("/page/step", data={"tab": "data"}, headers=HX)
    # the diagram shows sample 0, just trained on; the next step moves on to sample 1
    assert '<tr data-sample="0" class="current" aria-current="true">' in response.text
    assert re.findall(r'<tr data-sample="(\d)"[^>]* data-upcoming>', response.text) == ["1"]
    assert (await client.post(f"/api/sessions/{sid}/step")).json()["sample_index"] == 1
    await client.post("/page/data/mode", data={"mode": "batch"}, headers=HX)
    assert "data-upcoming" not in (await client.get("/?tab=data")).text


@pytest.mark.parametrize("index", ["4", "-1", "one", "", "1.0"])
async def test_a_sample_that_is_not_there_is_refused(
    client: httpx.AsyncClient, store: MemoryStore, index: str
) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    before = await api_state(client, sid)
    response = await client.post("/page/data/current", data={"sample_index": index}, headers=HX)
    assert response.status_code == 422
    assert f"Sample: “{index}” is not a row of this data (rows 0 to 3)" in text(response)
    assert await api_state(client, sid) == before


async def test_the_table_shows_every_sample_with_the_networks_output(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor", seed=3)
    page = (await client.get("/?tab=data")).text
    current = store.get(sid)
    outputs = engine.predict(current.arch, current.params, current.data.inputs)
    shown = [float(v) for v in re.findall(r'<td class="y" title="[^"]+" data-output="([^"]+)"', page)]
    assert shown == outputs[:, 0].tolist()
    assert re.findall(r'<tr data-sample="(\d+)"', page) == ["0", "1", "2", "3"]
    assert (
        '<th scope="col" class="x">x1</th><th scope="col" class="x">x2</th><th scope="col" class="t">t1</th>'
        in (page)
    )


async def test_decision_map_cells_and_points(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch")
    page = (await client.get("/?tab=data")).text
    assert page.count('<figure class="decision-map"') == 1
    assert 'data-cells="576" data-points="4"' in page
    assert cells_of(page) == expected_cells(store.get(sid))
    points = POINT.findall(page)
    assert sorted((int(i), float(t), bool(c)) for c, i, t in points) == [
        (0, 0.0, True),
        (1, 1.0, False),
        (2, 1.0, False),
        (3, 0.0, False),
    ]
    for label in (">x1 →</text>", ">x2 ↑</text>", ">−0.1</text>", ">1.1</text>"):
        assert label in page, label


async def test_decision_maps_are_redrawn_after_a_step(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch")
    before = cells_of((await client.get("/?tab=data")).text)
    fragment = ""
    for _ in range(20):
        response = await client.post("/page/step", data={"tab": "data"}, headers=HX)
        assert response.status_code == 200
        fragment = response.text
    assert ('<section id="panel" class="panel" hx-swap-oob="true">') in fragment
    after = cells_of(fragment)
    current = store.get(sid)
    assert current.step == 20
    assert after == expected_cells(current)
    assert after != before
    assert "after 20 updates" in fragment


async def test_one_map_per_output_and_none_without_two_inputs(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store)  # 2-3-2: two maps, one point
    page = (await client.get("/?tab=data")).text
    assert re.findall(r'<figure class="decision-map" data-output="(\d)"', page) == ["0", "1"]
    assert len(cells_of(page)) == 2 * 576
    assert cells_of(page) == expected_cells(store.get(sid))
    assert len(POINT.findall(page)) == 2
    use_session(client, store, layers=[3, 2, 1], input=[0.1, 0.2, 0.3], target=[1.0])
    page = (await client.get("/?tab=data")).text
    assert "decision-map" not in page
    assert '<tr data-sample="0" class="current"' in page


async def test_the_sample_form_redraws_the_samples_and_maps(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store)
    data = {"x1": "0.7", "x2": "−0.2", "t1": "0", "t2": "1", "eta": "0.5", "tab": "data"}
    response = await client.post("/page/sample", data=data, headers=HX)
    assert response.status_code == 200
    # the panel comes out of band with the Data tab's samples and maps inside it
    assert region_ids(response.text)[-3:] == [("panel", True), ("dataset", False), ("announce", True)]
    assert '<td class="x" title="0.7">0.7</td><td class="x" title="-0.2">−0.2</td>' in response.text
    assert cells_of(response.text) == expected_cells(store.get(sid))


@pytest.mark.parametrize(
    ("path", "form", "field", "value"),
    [
        ("/page/data/dataset", {"dataset": "and"}, "dataset", "and"),
        ("/page/data/dataset", {"dataset": "table", "table": "1 1 ; 1\n0 1 ; 0"}, "dataset", None),
        ("/page/data/mode", {"mode": "batch"}, "mode", "batch"),
        ("/page/data/current", {"sample_index": "3"}, "sample_index", 3),
    ],
)
async def test_every_form_works_without_javascript(
    client: httpx.AsyncClient, store: MemoryStore, path: str, form: dict[str, str], field: str, value: Any
) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    response = await client.post(path, data={**form, "tab": "data"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?tab=data"
    state = await api_state(client, sid)
    got = state[field]["name"] if field == "dataset" and state[field] is not None else state[field]
    if path.endswith("dataset") and value is None:
        assert state["dataset"] == {
            "name": None,
            "inputs": [[1.0, 1.0], [0.0, 1.0]],
            "targets": [[1.0], [0.0]],
        }
    else:
        assert got == value
    page = await client.get(response.headers["location"])
    assert page.status_code == 200 and 'aria-current="page" class="tab current">Data</a>' in page.text


@pytest.mark.parametrize("path", ["/page/data/dataset", "/page/data/mode", "/page/data/current"])
async def test_foreign_origins_are_refused(client: httpx.AsyncClient, store: MemoryStore, path: str) -> None:
    sid = use_session(client, store, layers=[2, 3, 1], dataset="xor")
    before = await api_state(client, sid)
    form = {"dataset": "or", "mode": "batch", "sample_index": "1"}
    refused = await client.post(path, data=form, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert await api_state(client, sid) == before


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/page/data/dataset", {"dataset": "or"}),  # one target: not for the default 2-3-2 network
        ("/page/data/current", {"sample_index": "1"}),  # the default has one sample
    ],
)
async def test_without_a_session_a_form_that_cannot_be_used_keeps_nothing(
    client: httpx.AsyncClient, store: MemoryStore, path: str, form: dict[str, str]
) -> None:
    client.cookies.clear()
    refused = await client.post(path, data=form, headers=HX)
    assert refused.status_code == 422
    assert store.count() == 0 and COOKIE not in client.cookies


async def test_without_a_session_the_first_change_keeps_the_network_shown(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    client.cookies.clear()
    first = await client.post("/page/data/mode", data={"mode": "batch", "tab": "data"}, headers=HX)
    assert first.status_code == 204 and first.headers["hx-redirect"] == "/?tab=data"
    sid = new_cookie(first)
    kept = store.get(sid)
    assert kept.config.mode == "batch" and store.count() == 1
    assert_same_parameters(kept, session.create("default"))


async def test_the_tab_is_secure_and_self_contained(client: httpx.AsyncClient, store: MemoryStore) -> None:
    use_session(client, store, layers=[2, 3, 1], dataset="xor")
    whole = (await client.get("/?tab=data")).text
    page = whole[whole.index('<section class="data-tab"') :]
    assert page.count("<form ") == 4
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert not re.search(r"\sstyle\s*=", page)
    for form in re.findall(r"<form [^>]*>", page):
        action = re.search(r'action="([^"]+)"', form)
        assert action is not None and action.group(1).startswith("/")
        if 'method="post"' in form:
            assert f'hx-post="{action.group(1)}"' in form, form
