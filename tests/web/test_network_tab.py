"""The Network tab's routes: presets, the architecture form, export and import through the page."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from app import presets, session
from app.datasets import make_dataset
from app.limits import (
    MAX_UPLOAD_BYTES,
    UPLOAD_SLACK,
)
from app.presets import PRESETS
from app.store import MemoryStore
from app.web.deps import COOKIE
from tests.web.page import (
    HX,
    assert_same_parameters,
    comparable,
    new_cookie,
    text,
    use_session,
)

pytestmark = pytest.mark.anyio


async def test_the_tab_is_prefilled_with_the_current_network(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(
        client,
        store,
        layers=[2, 4, 1],
        activation="tanh",
        loss="bce",
        learning_rate=0.25,
        seed=9,
        train_biases=False,
        dataset="xor",
    )
    page = (await client.get("/?tab=network")).text
    assert 'name="layers" value="2, 4, 1"' in page
    assert '<option value="tanh" selected>tanh</option>' in page
    assert 'name="learning_rate" value="0.25"' in page
    assert 'name="seed" value="9"' in page
    assert '<input type="checkbox" name="train_biases">' in page
    assert '<option value="current" selected>Keep the current data (XOR, 4 samples)</option>' in page
    assert f'<a href="/api/sessions/{sid}/export" download>' in page
    assert re.findall(r'<input type="hidden" name="name" value="(\w+)">', page) == list(PRESETS)
    assert page.count(">Start from this preset</button>") == len(PRESETS)
    for preset in PRESETS.values():
        assert preset.citation in html.unescape(page)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("htmx", [True, False])
async def test_each_preset_starts_a_new_session(
    client: httpx.AsyncClient, store: MemoryStore, name: str, htmx: bool
) -> None:
    old = use_session(client, store)
    await client.post("/page/step", headers=HX)
    count = store.count()
    asked = await client.post(
        "/page/network/preset", data={"name": name, "tab": "network"}, headers=HX if htmx else {}
    )
    assert asked.status_code == 200 and "set-cookie" not in asked.headers and store.count() == count
    question = f"Start a new network from {presets.get(name).title}?"
    assert question in text(asked) and text(asked).count('role="alertdialog"') == 1
    assert (
        '<button type="submit" name="confirmed" value="1" class="next">Yes, start it</button>' in asked.text
    )
    assert "stays available through its API link" in asked.text
    response = await client.post(
        "/page/network/preset",
        data={"name": name, "tab": "network", "confirmed": "1"},
        headers=HX if htmx else {},
    )
    if htmx:
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == "/?tab=network"
    else:
        assert response.status_code == 303
        assert response.headers["location"] == "/?tab=network"
    sid = new_cookie(response)
    assert sid != old and client.cookies[COOKIE] == sid
    assert comparable(store.get(sid)) == comparable(presets.create_from_preset("x", name))
    assert store.get(old).step == 1  # the old session stays, untouched
    page = await client.get("/?tab=network")
    assert f'data-session-id="{sid}"' in page.text


async def test_mazur_weights_are_exactly_the_posts(client: httpx.AsyncClient, store: MemoryStore) -> None:
    use_session(client, store)
    response = await client.post("/page/network/preset", data={"name": "mazur", "confirmed": "1"}, headers=HX)
    state = (await client.get(f"/api/sessions/{new_cookie(response)}")).json()
    assert state["weights"] == [[[0.15, 0.25], [0.2, 0.3]], [[0.4, 0.5], [0.45, 0.55]]]
    assert state["biases"] == [[0.35, 0.35], [0.6, 0.6]]
    assert (state["input"], state["target"], state["train_biases"]) == ([0.05, 0.1], [0.01, 0.99], False)


@pytest.mark.parametrize("name", ["", "nope", "../article"])
async def test_an_unknown_preset_is_refused(client: httpx.AsyncClient, store: MemoryStore, name: str) -> None:
    sid = use_session(client, store)
    count = store.count()
    response = await client.post("/page/network/preset", data={"name": name}, headers=HX)
    assert response.status_code == 422
    assert f"Preset: unknown preset “{name}”; choose one of article, mazur, xor" in text(response)
    assert "set-cookie" not in response.headers
    assert store.count() == count and client.cookies[COOKIE] == sid


FORM = {
    "layers": "2, 3, 2",
    "activation": "sigmoid",
    "output_activation": "sigmoid",
    "loss": "l2",
    "learning_rate": "0.5",
    "seed": "0",
    "train_biases": "on",
    "data": "current",
    "tab": "network",
    "confirmed": "1",
}


async def test_the_architecture_form_asks_first_and_keeps_what_was_typed(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    sid = use_session(client, store)
    count = store.count()
    form = {**FORM, "layers": "2, 5, 1", "learning_rate": "0.3"}
    del form["confirmed"]
    asked = await client.post("/page/network/create", data=form, headers=HX)
    assert asked.status_code == 200 and "set-cookie" not in asked.headers
    assert store.count() == count and client.cookies[COOKIE] == sid
    assert "Start a new 2-5-1 network?" in text(asked)
    assert 'name="layers" value="2, 5, 1"' in asked.text and 'name="learning_rate" value="0.3"' in asked.text
    assert '<button type="submit">Start this network</button>' not in asked.text


@pytest.mark.parametrize("htmx", [True, False])
async def test_the_architecture_form_starts_a_new_network(
    client: httpx.AsyncClient, store: MemoryStore, htmx: bool
) -> None:
    old = use_session(client, store)
    form = {**FORM, "layers": "2-4-1", "activation": "tanh", "loss": "bce", "learning_rate": "0.3"}
    form |= {"seed": "7", "data": "xor"}
    del form["train_biases"]
    response = await client.post("/page/network/create", data=form, headers=HX if htmx else {})
    assert response.status_code == (204 if htmx else 303)
    sid = new_cookie(response)
    assert sid != old
    expected = session.create(
        "x",
        layers=[2, 4, 1],
        activation="tanh",
        loss="bce",
        learning_rate=0.3,
        seed=7,
        train_biases=False,
        dataset="xor",
    )
    assert comparable(store.get(sid)) == comparable(expected)
    assert_same_parameters(store.get(sid), expected)
    assert store.get(old).arch.layers == (2, 3, 2)


@pytest.mark.parametrize(
    ("fields", "layers", "input_", "target"),
    [
        ({"layers": "2 4 1"}, [2, 4, 1], [0.05, 0.1], [0.01]),  # the sample is cut to fit
        ({"layers": "3, 2, 3"}, [3, 2, 3], [0.05, 0.1, 0.05], [0.01, 0.99, 0.01]),  # or extended
        ({"layers": "2,2", "data": "single"}, [2, 2], [0.05, 0.1], [0.01, 0.99]),
    ],
)
async def test_a_single_sample_is_fitted_to_the_new_layers(
    client: httpx.AsyncClient,
    store: MemoryStore,
    fields: dict[str, str],
    layers: list[int],
    input_: list[float],
    target: list[float],
) -> None:
    use_session(client, store)
    response = await client.post("/page/network/create", data={**FORM, **fields}, headers=HX)
    assert response.status_code == 204
    state = (await client.get(f"/api/sessions/{new_cookie(response)}")).json()
    assert (state["layers"], state["input"], state["target"], state["dataset"]) == (
        layers,
        input_,
        target,
        None,
    )


async def test_a_fitting_table_is_kept(client: httpx.AsyncClient, store: MemoryStore) -> None:
    table = {"inputs": [[0.0, 1.0], [1.0, 0.5], [0.2, 0.2]], "targets": [[1.0], [0.0], [0.5]]}
    use_session(client, store, layers=[2, 3, 1], dataset=make_dataset(table["inputs"], table["targets"]))
    response = await client.post("/page/network/create", data={**FORM, "layers": "2,5,5,1"}, headers=HX)
    assert response.status_code == 204
    state = (await client.get(f"/api/sessions/{new_cookie(response)}")).json()
    assert state["layers"] == [2, 5, 5, 1]
    assert state["dataset"] == {"name": None, **table}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"layers": ""}, "layers", "Layer sizes: enter the units of each layer, input first, e.g. 2, 3, 2"),
        ({"layers": "2, x, 2"}, "layers", "Layer sizes: “x” is not a whole number of units"),
        ({"layers": "2, 1.5, 2"}, "layers", "Layer sizes: “1.5” is not a whole number of units"),
        (
            {"layers": "2"},
            "layers",
            "Layer sizes: a network has 2 to 6 layers (input and output included), got 1",
        ),
        ({"layers": "2,3,3,3,3,3,2"}, "layers", "Layer sizes: a network has 2 to 6 layers"),
        ({"layers": "2, 9, 2"}, "layers", "Layer sizes: a layer has 1 to 8 units, got 9"),
        ({"layers": "2, 0, 2"}, "layers", "Layer sizes: a layer has 1 to 8 units, got 0"),
        (
            {"activation": "softmax"},
            "activation",
            "Hidden activation: choose one of sigmoid, tanh, relu, linear",
        ),
        ({"output_activation": ""}, "output_activation", "Output activation: choose one of sigmoid, tanh"),
        ({"loss": "hinge"}, "loss", "Loss: choose one of l2, bce"),
        (
            {"loss": "bce", "output_activation": "tanh"},
            "loss",
            "Loss: cross-entropy needs a sigmoid output layer",
        ),
        ({"learning_rate": "0"}, "learning_rate", "Learning rate: must lie in (0, 100]"),
        ({"learning_rate": "101"}, "learning_rate", "Learning rate: must lie in (0, 100]"),
        ({"learning_rate": "fast"}, "learning_rate", "Learning rate: “fast” is not a number"),
        ({"learning_rate": "nan"}, "learning_rate", "Learning rate: must be a finite number"),
        ({"seed": "-1"}, "seed", "Seed: a whole number from 0 to 4294967295"),
        ({"seed": "4294967296"}, "seed", "Seed: a whole number from 0 to 4294967295"),
        ({"seed": "1e3"}, "seed", "Seed: a whole number from 0 to 4294967295"),
        (
            {"data": "xor"},
            "data",
            "Data: each sample has 2 inputs and 1 target, but a 2-3-2 network has 2 inputs and 2 outputs: "
            "change the layer sizes or choose other data",
        ),
        ({"data": "moons"}, "data", "Data: choose the current data, one sample or a built-in dataset"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
async def test_invalid_architectures_are_refused_next_to_the_field(
    client: httpx.AsyncClient,
    store: MemoryStore,
    fields: dict[str, str],
    field: str,
    message: str,
    htmx: bool,
) -> None:
    sid = use_session(client, store)
    count = store.count()
    response = await client.post("/page/network/create", data={**FORM, **fields}, headers=HX if htmx else {})
    assert response.status_code == 422
    assert message in text(response)
    assert f'id="{field}-error"' in response.text
    assert "set-cookie" not in response.headers
    assert store.count() == count and client.cookies[COOKIE] == sid
    if "layers" in fields:  # what was typed comes back, to be corrected
        assert f'name="layers" value="{html.escape(fields["layers"])}"' in response.text
    if htmx:
        assert response.text.lstrip().startswith('<section id="panel"')
    else:
        assert "<html" in response.text


async def test_current_data_that_does_not_fit_is_refused(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    use_session(client, store, layers=[2, 3, 1], dataset="xor")
    count = store.count()
    response = await client.post("/page/network/create", data={**FORM, "layers": "3, 3, 1"}, headers=HX)
    assert response.status_code == 422
    assert "Data: each sample has 2 inputs and 1 target, but a 3-3-1 network has 3 inputs" in response.text
    assert store.count() == count


async def upload(
    client: httpx.AsyncClient, content: bytes, *, htmx: bool = True, filename: str = "session.json"
) -> httpx.Response:
    return await client.post(
        "/page/network/import",
        data={"tab": "network"},
        files={"file": (filename, content, "application/json")},
        headers=HX if htmx else {},
    )


@pytest.mark.parametrize("htmx", [True, False])
async def test_export_then_import_through_the_page(
    client: httpx.AsyncClient, store: MemoryStore, htmx: bool
) -> None:
    old = use_session(client, store, layers=[2, 4, 1], dataset="xor", learning_rate=2.0)
    for _ in range(5):
        await client.post("/page/step", headers=HX)
    await client.post("/page/substep", headers=HX)
    exported = await client.get(f"/api/sessions/{old}/export")
    assert exported.status_code == 200
    response = await upload(client, exported.content, htmx=htmx)
    assert response.status_code == (204 if htmx else 303)
    sid = new_cookie(response)
    assert sid != old
    assert comparable(store.get(sid)) == comparable(store.get(old))
    assert_same_parameters(store.get(sid), store.get(old))
    history = [(await client.get(f"/api/sessions/{s}/history")).json() for s in (old, sid)]
    assert history[0] == history[1] and len(history[0]) == 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello", "Import: the file is not JSON (Expecting value, line 1)"),
        (b"", "Import: the file is empty"),
        (b"\xff\xfe\x00", "Import: the file is not text (UTF-8 JSON); choose a file exported here"),
        (b"[1, 2]", "Import: the file is JSON but not a session document (expected an object)"),
        (
            b'{"format": "something else"}',
            "Import: not a session document: 'format' must be 'backprop-viz.session'",
        ),
        (b'{"x": NaN}', "Import: the file holds NaN, which is not a number a session can hold"),
        (b"[" * 100_000, "Import: the file"),
    ],
)
async def test_a_bad_file_is_refused_with_the_reason(
    client: httpx.AsyncClient, store: MemoryStore, content: bytes, message: str
) -> None:
    sid = use_session(client, store)
    count = store.count()
    response = await upload(client, content)
    assert response.status_code == 422
    assert message in text(response)
    assert 'id="import-error"' in response.text
    assert "set-cookie" not in response.headers
    assert store.count() == count and client.cookies[COOKIE] == sid


async def test_a_file_with_bad_shapes_is_refused(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store)
    document = (await client.get(f"/api/sessions/{sid}/export")).json()
    document["params"]["weights"][0] = [[0.1, 0.2]]  # 1×2 where 2×3 belongs
    count = store.count()
    response = await upload(client, json.dumps(document).encode())
    assert response.status_code == 422
    assert "Import: weights[0]" in text(response)
    assert store.count() == count


async def test_a_huge_file_is_refused_unread(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store)
    count = store.count()
    huge = b" " * (MAX_UPLOAD_BYTES + UPLOAD_SLACK) + b"{}"
    response = await upload(client, huge)
    assert response.status_code == 422
    assert "Import: the file is larger than 2 MB" in response.text
    assert store.count() == count and client.cookies[COOKIE] == sid
    # just over the limit, but within the envelope's slack: read, then refused
    response = await upload(client, b" " * MAX_UPLOAD_BYTES + b"{}")
    assert response.status_code == 422
    assert "Import: the file is larger than 2 MB" in response.text


async def test_no_file_and_not_multipart(client: httpx.AsyncClient, store: MemoryStore) -> None:
    use_session(client, store)
    count = store.count()
    for response in (
        await client.post("/page/network/import", data={"tab": "network"}, headers=HX),
        await upload(client, b"{}", filename=""),
    ):
        assert response.status_code == 422
        assert "Import: choose a session file (one saved with “Download this session”)" in text(response)
    broken = await client.post(
        "/page/network/import", content=b"--x\r\n", headers={**HX, "Content-Type": "multipart/form-data"}
    )
    assert broken.status_code == 422
    assert "Import: Missing boundary in multipart." in broken.text
    assert store.count() == count


@pytest.mark.parametrize("path", ["/page/network/preset", "/page/network/create", "/page/network/import"])
async def test_foreign_origins_and_no_session(
    client: httpx.AsyncClient, store: MemoryStore, path: str
) -> None:
    use_session(client, store)
    count = store.count()
    refused = await client.post(path, data={**FORM, "name": "xor"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert store.count() == count
    client.cookies.clear()
    # Without a session of its own a visitor makes one as anyone does (nothing to import: none).
    first = await client.post(path, data={**FORM, "name": "xor"}, headers=HX)
    if path.endswith("import"):
        assert first.status_code == 422 and store.count() == count
    else:
        assert first.status_code == 204 and first.headers["hx-redirect"] == "/?tab=network"
        assert store.count() == count + 1 and client.cookies[COOKIE] == new_cookie(first)


async def test_the_tab_is_secure_and_self_contained(client: httpx.AsyncClient, store: MemoryStore) -> None:
    use_session(client, store)
    whole = (await client.get("/page/network/share?tab=network")).text
    page = whole[whole.index('<section class="network-tab"') :]
    assert page.count("<form ") == len(PRESETS) + 2  # the presets, the architecture, the import
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert not re.search(r"\sstyle\s*=", page)
    for key in ("href", "action", "hx-get", "hx-post"):
        for value in re.findall(rf'\s{key}="([^"]*)"', page):
            assert value.startswith("/"), (key, value)
    for form in re.findall(r"<form [^>]*>", page):
        action = re.search(r'action="([^"]+)"', form)
        assert action is not None
        assert f'hx-post="{action.group(1)}"' in form, form
