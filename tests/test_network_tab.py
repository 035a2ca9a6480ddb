"""The Network tab: presets, the architecture form, export/import, share links, and their API."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import numpy as np
import pytest

from app import presets, session, share
from app.datasets import make_dataset
from app.limits import MAX_TOKEN_LENGTH, MAX_UPLOAD_BYTES, UPLOAD_SLACK
from app.pages import COOKIE
from app.presets import PRESETS
from app.schemas import state_of
from app.session import Session
from app.store import MemoryStore

pytestmark = pytest.mark.anyio

HX = {"HX-Request": "true"}


def use_session(client: httpx.AsyncClient, store: MemoryStore, **fields: Any) -> str:
    """Put a new session in the store and make it the page's (as the cookie would)."""
    created = session.create(f"s{store.count()}", **fields)
    store.add(created)
    client.cookies.clear()
    client.cookies.set(COOKIE, created.id, domain="testserver.local")
    return created.id


def new_cookie(response: httpx.Response) -> str:
    match = re.match(rf"{COOKIE}=([^;]+);", response.headers["set-cookie"])
    assert match is not None
    return match.group(1)


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def comparable(current: Session) -> dict[str, Any]:
    """The API state without the id."""
    state = state_of(current).model_dump()
    del state["id"]
    return state


def assert_same_parameters(ours: Session, theirs: Session) -> None:
    for a, b in zip(
        ours.params.weights + ours.params.biases, theirs.params.weights + theirs.params.biases, strict=True
    ):
        assert a.dtype == b.dtype and np.array_equal(a, b)


# --------------------------------------------------------------------------------------------
# The tab
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("htmx", [True, False])
async def test_each_preset_starts_a_new_session(
    client: httpx.AsyncClient, store: MemoryStore, name: str, htmx: bool
) -> None:
    old = use_session(client, store)
    await client.post("/page/step", headers=HX)
    response = await client.post(
        "/page/network/preset", data={"name": name, "tab": "network"}, headers=HX if htmx else {}
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
    response = await client.post("/page/network/preset", data={"name": "mazur"}, headers=HX)
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


# --------------------------------------------------------------------------------------------
# The architecture form
# --------------------------------------------------------------------------------------------

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
}


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


# --------------------------------------------------------------------------------------------
# Export and import
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Share links
# --------------------------------------------------------------------------------------------


async def test_share_link_opens_a_copy_with_identical_weights(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    old = use_session(client, store, layers=[2, 4, 1], dataset="xor", learning_rate=2.0, mode="batch", seed=5)
    for _ in range(7):
        await client.post("/page/step", headers=HX)
    response = await client.get("/page/network/share?tab=network", headers=HX)
    assert response.status_code == 200
    token = share.encode(store.get(old))
    assert f'value="http://testserver/share/{token}" data-share-url' in response.text
    assert f'<a href="/share/{token}">open it</a>' in response.text
    plain = await client.get("/page/network/share?tab=network")
    assert plain.status_code == 200 and "<html" in plain.text and token in plain.text

    opened = await client.get(f"/share/{token}", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    sid = new_cookie(opened)
    assert sid != old
    copy, original = store.get(sid), store.get(old)
    assert copy.config == original.config
    assert_same_parameters(copy, original)
    assert np.array_equal(copy.data.inputs, original.data.inputs) and copy.data.name == "xor"
    assert (copy.step, original.step) == (0, 7)  # a fresh session: no history
    api = [(await client.get(f"/api/sessions/{s}")).json() for s in (old, sid)]
    assert api[0]["weights"] == api[1]["weights"] and api[0]["biases"] == api[1]["biases"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("!!!", "the token may hold only letters, digits"),
        ("abc", "share link: the token"),
        ("A" * (MAX_TOKEN_LENGTH + 1), f"at most {MAX_TOKEN_LENGTH} are accepted"),
        ("eJyLjgUAARUAuQ", "share link: the token does not hold a JSON object"),  # zlib of "[]"
    ],
)
async def test_a_bad_share_link_is_a_page_with_the_reason(
    client: httpx.AsyncClient, store: MemoryStore, token: str, message: str
) -> None:
    sid = use_session(client, store)
    count = store.count()
    response = await client.get(f"/share/{token}", follow_redirects=False)
    assert response.status_code == 422
    assert "<html" in response.text
    assert "This share link cannot be opened: share link:" in text(response)
    assert message in text(response)
    assert "set-cookie" not in response.headers
    assert store.count() == count and client.cookies[COOKIE] == sid
    client.cookies.clear()  # a visitor with no session of their own gets one, and the message
    fresh = await client.get(f"/share/{token}")
    assert fresh.status_code == 422 and message in text(fresh)
    assert new_cookie(fresh) in fresh.text


def too_big_for_a_link() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    table = make_dataset(rng.random((256, 8)).tolist(), rng.random((256, 1)).tolist())
    return {"layers": [8, 8, 1], "dataset": table}


async def test_a_session_too_big_for_a_link_says_so(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = use_session(client, store, **too_big_for_a_link())
    response = await client.get("/page/network/share?tab=network", headers=HX)
    assert response.status_code == 200
    assert "share link: this session needs" in response.text
    assert "export it as a file instead" in response.text
    api = await client.get(f"/api/sessions/{sid}/share")
    assert api.status_code == 422
    assert api.json()["detail"].startswith("share link: this session needs")


# --------------------------------------------------------------------------------------------
# Security and lost sessions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/page/network/preset", "/page/network/create", "/page/network/import"])
async def test_foreign_origins_and_lost_sessions(
    client: httpx.AsyncClient, store: MemoryStore, path: str
) -> None:
    use_session(client, store)
    count = store.count()
    refused = await client.post(path, data={**FORM, "name": "xor"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert store.count() == count
    client.cookies.clear()
    lost = await client.post(path, data={**FORM, "name": "xor"}, headers=HX)
    assert lost.status_code == 204 and lost.headers["hx-redirect"] == "/"
    assert store.count() == count


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------


async def test_api_lists_the_presets(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/presets")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": p.name,
            "title": p.title,
            "description": p.description,
            "citation": p.citation,
            "fields": p.body(),
        }
        for p in PRESETS.values()
    ]


@pytest.mark.parametrize("name", list(PRESETS))
async def test_api_creates_a_session_from_a_preset(
    client: httpx.AsyncClient, store: MemoryStore, name: str
) -> None:
    response = await client.post("/api/sessions", json={"preset": name})
    assert response.status_code == 201
    state = response.json()
    assert response.headers["location"] == f"/api/sessions/{state['id']}"
    del state["id"]
    assert state == comparable(presets.create_from_preset("x", name))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"preset": "xor", "learning_rate": 1.0},
            {"learning_rate": 1.0, "layers": [2, 4, 1], "mode": "batch"},
        ),
        ({"preset": "xor", "input": [0.0, 1.0], "target": [1.0]}, {"dataset": None, "input": [0.0, 1.0]}),
        (
            {"preset": "mazur", "dataset": "xor", "layers": [2, 2, 1]},
            {"dataset": "xor", "train_biases": False},
        ),
        ({"preset": "mazur", "seed": 4}, {"weights": PRESETS["mazur"].fields["weights"], "seed": 4}),
    ],
)
async def test_api_preset_fields_are_the_base_and_given_fields_override(
    client: httpx.AsyncClient, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    state = response.json()
    if state["dataset"] is not None:
        state["dataset"] = state["dataset"]["name"]
    for key, value in expected.items():
        assert state[key] == value, key


async def test_api_given_layers_drop_the_presets_weights(client: httpx.AsyncClient) -> None:
    state = (await client.post("/api/sessions", json={"preset": "mazur", "layers": [2, 3, 2]})).json()
    drawn = session.create("x", layers=[2, 3, 2], seed=0)
    assert state["weights"] == [w.tolist() for w in drawn.params.weights]
    assert state["train_biases"] is False  # the rest of the preset stays


async def test_api_unknown_preset(client: httpx.AsyncClient, store: MemoryStore) -> None:
    count = store.count()
    response = await client.post("/api/sessions", json={"preset": "nope"})
    assert response.status_code == 422
    assert response.json() == {"detail": "preset: unknown preset 'nope'; choose one of article, mazur, xor"}
    assert store.count() == count


async def test_api_share_link(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = (await client.post("/api/sessions", json={"preset": "xor"})).json()["id"]
    await client.post(f"/api/sessions/{sid}/train", json={"epochs": 3})
    response = await client.get(f"/api/sessions/{sid}/share")
    assert response.status_code == 200
    token = share.encode(store.get(sid))
    assert response.json() == {"token": token, "url": f"http://testserver/share/{token}"}
    opened = await client.get(response.json()["url"], follow_redirects=False)
    assert opened.status_code == 303
    assert_same_parameters(store.get(new_cookie(opened)), store.get(sid))
    assert (await client.get("/api/sessions/nope/share")).status_code == 404


async def test_openapi_documents_the_new_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/presets" in spec["paths"]
    assert "/api/sessions/{session_id}/share" in spec["paths"]
    assert "/share/{token}" not in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"PresetInfo", "ShareLink"} <= schemas.keys()
    assert "preset" in schemas["CreateSession"]["properties"]


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


@pytest.mark.anyio
async def test_a_share_link_from_another_site_asks_first(client: httpx.AsyncClient) -> None:
    client.cookies.clear()
    await client.get("/")
    mine = client.cookies["bpv_session"]
    token = (await client.get(f"/api/sessions/{mine}/share")).json()["token"]
    asked = await client.get(
        f"/share/{token}", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert asked.status_code == 200
    assert "set-cookie" not in asked.headers
    assert f'action="/share/{token}"' in asked.text and "Open the shared network" in asked.text
    foreign = await client.post(f"/share/{token}", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    assert client.cookies["bpv_session"] == mine
    confirmed = await client.post(
        f"/share/{token}", headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    assert client.cookies["bpv_session"] != mine
