"""The JSON API through httpx against the app in process: every endpoint, every error; presets and
share links; the working (explain, check, gradient check); background training runs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import itertools
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from app import codec, engine, history, presets, session, share
from app.limits import MAX_IMPORT_BYTES, MAX_LAYERS, MAX_LOSS_HISTORY, MAX_UNITS
from app.main import create_app
from app.presets import PRESETS
from app.settings import Settings
from app.store import MemoryStore
from app.train_pool import RETRY_AFTER_SECONDS, TrainingPool
from tests.web.page import assert_same_parameters, comparable, new_cookie

pytestmark = pytest.mark.anyio

STATE_KEYS = {
    "id",
    "layers",
    "activation",
    "output_activation",
    "loss",
    "learning_rate",
    "train_biases",
    "input",
    "target",
    "weights",
    "biases",
    "phase",
    "step",
    "loss_count",
    "recent_losses",
    "forward",
    "backward",
}


async def new(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    state: dict[str, Any] = response.json()
    return state


async def post(client: httpx.AsyncClient, sid: str, action: str, status: int = 200, **body: Any) -> Any:
    response = await client.post(f"/api/sessions/{sid}/{action}", json=body or None)
    assert response.status_code == status, response.text
    return response.json()


async def new_id(client: httpx.AsyncClient, **body: Any) -> str:
    """A new session's id."""
    return str((await new(client, **body))["id"])


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_create_default_is_the_articles_network(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/sessions")
    assert response.status_code == 201
    state = response.json()
    assert response.headers["location"] == f"/api/sessions/{state['id']}"
    assert state.keys() >= STATE_KEYS
    assert state["layers"] == [2, 3, 2]
    assert (state["activation"], state["output_activation"], state["loss"]) == ("sigmoid", "sigmoid", "l2")
    assert state["learning_rate"] == 0.5
    assert state["train_biases"] is True
    assert state["phase"] == "idle"
    assert state["step"] == 0
    assert state["loss_count"] == 0 and state["recent_losses"] == []
    assert "loss_history" not in state
    assert state["forward"] is None and state["backward"] is None
    expected = engine.init_parameters(engine.Architecture(), 0)
    assert state["weights"] == [w.tolist() for w in expected.weights]
    assert state["biases"] == [b.tolist() for b in expected.biases]
    assert [len(w) for w in state["weights"]] == [2, 3]
    assert [len(w[0]) for w in state["weights"]] == [3, 2]


async def test_create_with_every_field(client: httpx.AsyncClient) -> None:
    weights = [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7], [0.8], [0.9]]]
    biases = [[0.01, 0.02, 0.03], [0.04]]
    state = await new(
        client,
        layers=[2, 3, 1],
        activation="tanh",
        output_activation="linear",
        loss="l2",
        learning_rate=0.25,
        seed=7,
        weights=weights,
        biases=biases,
        input=[1.0, -1.0],
        target=[0.5],
        train_biases=False,
    )
    assert state["weights"] == weights
    assert state["biases"] == biases
    assert (state["activation"], state["output_activation"], state["seed"]) == ("tanh", "linear", 7)
    assert state["input"] == [1.0, -1.0] and state["target"] == [0.5]
    assert state["learning_rate"] == 0.25 and state["train_biases"] is False


async def test_omitted_weights_come_from_the_seed(client: httpx.AsyncClient) -> None:
    a = await new(client, seed=3)
    b = await new(client, seed=3)
    c = await new(client, seed=4)
    assert a["weights"] == b["weights"]
    assert a["weights"] != c["weights"]


async def test_get_patch_delete(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    got = (await client.get(f"/api/sessions/{sid}")).json()
    assert got["id"] == sid
    await post(client, sid, "forward")
    patched = await client.patch(
        f"/api/sessions/{sid}",
        json={"learning_rate": 0.1, "input": [1.0, 0.0], "target": [1.0, 0.0], "train_biases": False},
    )
    assert patched.status_code == 200
    state = patched.json()
    assert state["learning_rate"] == 0.1
    assert state["input"] == [1.0, 0.0] and state["target"] == [1.0, 0.0]
    assert state["train_biases"] is False
    assert state["phase"] == "idle" and state["forward"] is None
    new_weights = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]]
    state = (await client.patch(f"/api/sessions/{sid}", json={"weights": new_weights})).json()
    assert state["weights"] == new_weights
    assert (await client.delete(f"/api/sessions/{sid}")).status_code == 204
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 404
    assert (await client.delete(f"/api/sessions/{sid}")).status_code == 404


async def test_forward_backward_update_match_the_engine(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    arch = engine.Architecture()
    params = engine.init_parameters(arch, 0)
    x, t = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    fwd = engine.forward(arch, params, x, t)
    bwd = engine.backward(arch, params, fwd)
    new_params = engine.update(params, bwd, 0.5)

    state = await post(client, sid, "forward")
    assert state["phase"] == "forward" and state["next_step"] == "backward"
    assert state["forward"]["activations"] == [h[0].tolist() for h in fwd.activations if h is not None]
    assert state["forward"]["pre_activations"] == [
        a[0].tolist() for a in fwd.pre_activations if a is not None
    ]
    assert state["forward"]["loss"] == fwd.loss
    assert state["forward"]["activations"][0] == [0.05, 0.10]

    state = await post(client, sid, "backward")
    assert state["phase"] == "backward" and state["next_step"] == "update"
    assert state["backward"]["deltas"] == [d[0].tolist() for d in bwd.deltas if d is not None]
    assert state["backward"]["weight_gradients"] == [
        g.tolist() for g in bwd.weight_gradients if g is not None
    ]
    assert state["backward"]["bias_gradients"] == [g.tolist() for g in bwd.bias_gradients if g is not None]

    state = await post(client, sid, "update")
    assert state["phase"] == "updated" and state["step"] == 1
    assert state["weights"] == [w.tolist() for w in new_params.weights]
    assert state["biases"] == [b.tolist() for b in new_params.biases]
    assert state["previous"]["weights"] == [w.tolist() for w in params.weights]
    assert state["recent_losses"] == [fwd.loss] and state["loss_count"] == 1


async def test_step_equals_three_phases(client: httpx.AsyncClient) -> None:
    a = (await new(client))["id"]
    b = (await new(client))["id"]
    for action in ("forward", "backward", "update"):
        by_phase = await post(client, a, action)
    by_step = await post(client, b, "step")
    for key in ("weights", "biases", "forward", "backward", "recent_losses", "loss_count", "phase", "step"):
        assert by_phase[key] == by_step[key], key


@pytest.mark.parametrize(
    ("setup", "action", "detail"),
    [
        ([], "backward", "run forward first"),
        ([], "update", "run forward, then backward, first"),
        (["forward"], "update", "run backward first"),
        (["forward", "backward"], "backward", "update comes next"),
        (["step"], "backward", "run forward first"),
        (["step"], "update", "run forward, then backward"),
        (["substep"], "backward", "forward pass is not finished"),
        (["forward", "substep"], "update", "backward pass is not finished"),
        ([], "undo", "nothing to undo"),
    ],
)
async def test_out_of_order_is_409_and_says_what_comes_first(
    client: httpx.AsyncClient, setup: list[str], action: str, detail: str
) -> None:
    sid = (await new(client))["id"]
    for step in setup:
        await post(client, sid, step)
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.post(f"/api/sessions/{sid}/{action}")
    assert response.status_code == 409
    assert detail in response.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json() == before


async def test_forward_is_allowed_from_every_phase(client: httpx.AsyncClient) -> None:
    for setup in ([], ["forward"], ["forward", "backward"], ["step"], ["substep"], ["forward", "substep"]):
        sid = (await new(client))["id"]
        for step in setup:
            await post(client, sid, step)
        state = await post(client, sid, "forward")
        assert state["phase"] == "forward", setup
        assert state["backward"] is None and state["forward"]["loss"] is not None


async def test_train_equals_repeated_steps(client: httpx.AsyncClient) -> None:
    a = (await new(client))["id"]
    b = (await new(client))["id"]
    trained = await post(client, a, "train", epochs=25)
    for _ in range(25):
        stepped = await post(client, b, "step")
    assert trained["step"] == 25
    for key in ("weights", "biases", "forward", "backward", "recent_losses", "loss_count", "previous"):
        assert trained[key] == stepped[key], key
    assert trained["recent_losses"][-1] < trained["recent_losses"][0]


async def test_reset_returns_to_creation(client: httpx.AsyncClient) -> None:
    created = await new(client, seed=5, learning_rate=1.5)
    sid = created["id"]
    await post(client, sid, "train", epochs=10)
    await client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.1})
    reset = await post(client, sid, "reset")
    assert reset == created


async def test_substep_reaches_the_same_state_as_step(client: httpx.AsyncClient) -> None:
    a = (await new(client))["id"]
    b = (await new(client))["id"]
    phases = []
    for _ in range(6):  # 2 forward layers, the loss, 2 deltas, the update
        phases.append((await post(client, a, "substep"))["phase"])
    assert phases == ["forwarding", "forwarding", "forward", "backwarding", "backward", "updated"]
    by_substep = (await client.get(f"/api/sessions/{a}")).json()
    by_step = await post(client, b, "step")
    for key in ("weights", "biases", "forward", "backward", "recent_losses", "loss_count"):
        assert by_substep[key] == by_step[key], key


async def test_partial_forward_shows_null_for_what_is_not_computed(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    state = await post(client, sid, "substep")
    assert state["phase"] == "forwarding"
    assert state["forward"]["pre_activations"][1] is None
    assert state["forward"]["activations"][2] is None
    assert state["forward"]["loss"] is None
    assert state["substep"] == {"done": 1, "total": 6, "next": "forward: layer 2 (a(2), h(2))"}


async def test_undo_history_and_restore(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    states = [await post(client, sid, "step") for _ in range(3)]
    history = (await client.get(f"/api/sessions/{sid}/history")).json()
    assert [h["step"] for h in history] == [0, 1, 2, 3]
    assert history[0]["loss"] is None
    assert [h["loss"] for h in history[1:]] == states[-1]["recent_losses"]
    undone = await post(client, sid, "undo")
    assert undone == states[1]
    restored = await post(client, sid, "history/3/restore")
    assert restored == states[2]
    first = await post(client, sid, "history/1/restore")
    assert first == states[0]
    response = await client.post(f"/api/sessions/{sid}/history/99/restore")
    assert response.status_code == 404
    assert "not kept" in response.json()["detail"]


async def test_export_import_round_trip(client: httpx.AsyncClient) -> None:
    sid = (await new(client, layers=[2, 4, 1], dataset="xor", mode="batch", learning_rate=2.0))["id"]
    await post(client, sid, "train", epochs=20)
    await post(client, sid, "forward")
    await post(client, sid, "substep")
    original = (await client.get(f"/api/sessions/{sid}")).json()
    exported = await client.get(f"/api/sessions/{sid}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    imported = await client.post("/api/sessions/import", json=exported.json())
    assert imported.status_code == 201
    copy = imported.json()
    assert copy["id"] != sid
    assert imported.headers["location"] == f"/api/sessions/{copy['id']}"
    assert copy["follow_url"] != original["follow_url"]  # a copy is followed on its own
    assert {**copy, "id": sid, "follow_url": original["follow_url"]} == original
    assert (await client.get(f"/api/sessions/{copy['id']}/history")).json() == (
        await client.get(f"/api/sessions/{sid}/history")
    ).json()


async def test_bad_import_changes_nothing(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = (await new(client))["id"]
    document = (await client.get(f"/api/sessions/{sid}/export")).json()
    document["params"]["weights"][0][0][0] = 1e9
    before = store.count()
    response = await client.post("/api/sessions/import", json=document)
    assert response.status_code == 422
    assert "weights[0]" in response.json()["detail"]
    assert store.count() == before
    response = await client.post("/api/sessions/import", json={"format": "something else"})
    assert response.status_code == 422
    assert "not a session document" in response.json()["detail"]


async def test_datasets_and_modes(client: httpx.AsyncClient) -> None:
    state = await new(client, dataset="xor")
    assert state["layers"] == [2, 3, 1]
    assert state["dataset"]["name"] == "xor"
    assert state["dataset"]["targets"] == [[0.0], [1.0], [1.0], [0.0]]
    assert state["sample_index"] == 0
    sid = state["id"]
    stepped = await post(client, sid, "step")
    assert stepped["sample_index"] == 0
    stepped = await post(client, sid, "step")
    assert stepped["sample_index"] == 1
    assert stepped["input"] == [0.0, 1.0]
    table = {"inputs": [[0, 0], [1, 1]], "targets": [[0], [1]]}
    state = await new(client, dataset=table, mode="batch")
    assert state["dataset"] == {"name": None, "inputs": [[0.0, 0.0], [1.0, 1.0]], "targets": [[0.0], [1.0]]}
    forward = await post(client, state["id"], "forward")
    assert forward["forward"]["batch_size"] == 2


async def test_unknown_session_is_404_everywhere(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/sessions/nope"),
        ("PATCH", "/api/sessions/nope"),
        ("DELETE", "/api/sessions/nope"),
        ("POST", "/api/sessions/nope/forward"),
        ("POST", "/api/sessions/nope/backward"),
        ("POST", "/api/sessions/nope/update"),
        ("POST", "/api/sessions/nope/step"),
        ("POST", "/api/sessions/nope/substep"),
        ("POST", "/api/sessions/nope/reset"),
        ("POST", "/api/sessions/nope/undo"),
        ("GET", "/api/sessions/nope/history"),
        ("POST", "/api/sessions/nope/history/0/restore"),
        ("GET", "/api/sessions/nope/export"),
    ]:
        body = {"learning_rate": 0.1} if method == "PATCH" else None
        response = await client.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert "no session" in response.json()["detail"]
    response = await client.post("/api/sessions/nope/train", json={"epochs": 1})
    assert response.status_code == 404


BAD_CREATE: list[tuple[str, str]] = [
    ('{"layers": [2, 9, 2]}', "layers.1"),
    ('{"layers": [2]}', "layers"),
    ('{"layers": [2, 2, 2, 2, 2, 2, 2]}', "layers"),
    ('{"layers": [2, 0, 2]}', "layers.1"),
    ('{"weights": [[[1, 2]]]}', "weights: expected 2 matrices"),
    ('{"weights": [[[1, 2], [3, 4]], [[1, 2], [3, 4]]]}', "weights[0]: expected a 2×3 matrix"),
    ('{"biases": [[1, 2, 3], [1]]}', "biases[1]: expected 2 values"),
    ('{"input": [1, 2, 3]}', "input: the network has 2 inputs"),
    ('{"target": [1]}', "target: the network has 2 outputs"),
    ('{"input": [NaN, 1]}', "input.0: Input should be a finite number"),
    ('{"input": [Infinity, 1]}', "input.0: Input should be a finite number"),
    ('{"target": [-Infinity, 1]}', "target.0: Input should be a finite number"),
    ('{"weights": [[[NaN, 0, 0], [0, 0, 0]], [[0, 0], [0, 0], [0, 0]]]}', "finite"),
    ('{"input": [1000001, 1]}', "input.0: Input should be less than or equal to 1000000"),
    ('{"biases": [[0, 0, -2e6], [0, 0]]}', "biases.0.2: Input should be greater than or equal to -1000000"),
    ('{"learning_rate": 0}', "learning_rate: Input should be greater than 0"),
    ('{"learning_rate": -1}', "learning_rate: Input should be greater than 0"),
    ('{"learning_rate": 100.5}', "learning_rate: Input should be less than or equal to 100"),
    ('{"learning_rate": NaN}', "learning_rate: Input should be a finite number"),
    ('{"activation": "softmax"}', "activation: Input should be 'sigmoid', 'tanh', 'relu' or 'linear'"),
    ('{"output_activation": "foo"}', "output_activation: Input should be"),
    ('{"loss": "mse"}', "loss: Input should be 'l2' or 'bce'"),
    ('{"loss": "bce", "output_activation": "tanh"}', "'bce' needs output_activation 'sigmoid'"),
    ('{"dataset": "spiral"}', "dataset"),
    ('{"dataset": {"inputs": [[0, 0]], "targets": [[0], [1]]}}', "1 input rows but 2 target rows"),
    ('{"dataset": "xor", "input": [0, 0]}', "either a dataset or an input"),
    ('{"mode": "online"}', "mode: Input should be 'sgd' or 'batch'"),
    ('{"seed": -1}', "seed"),
    ('{"colour": "red"}', "colour: Extra inputs are not permitted"),
    ("[1, 2]", "valid dictionary"),
    ("{not json", "JSON decode error"),
]


@pytest.mark.parametrize(("body", "detail"), BAD_CREATE)
async def test_bad_create_is_422_with_a_detail(
    client: httpx.AsyncClient, store: MemoryStore, body: str, detail: str
) -> None:
    response = await client.post(
        "/api/sessions", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert store.count() == 0


BAD_PATCH: list[tuple[str, str]] = [
    ('{"learning_rate": 0}', "learning_rate"),
    ('{"learning_rate": 1e3}', "learning_rate"),
    ('{"input": [1]}', "input: the network has 2 inputs"),
    ('{"target": [1, 2, 3]}', "target: the network has 2 outputs"),
    ('{"input": [1e300, 0]}', "input.0"),
    ('{"weights": [[[1]]]}', "weights"),
    ('{"biases": [[1, 2, 3], [1, Infinity]]}', "biases.1.1"),
    ('{"sample_index": 3}', "sample_index: must lie in 0..0"),
    ('{"dataset": "xor"}', "target: the network has 2 outputs"),
    ('{"phase": "updated"}', "phase: Extra inputs are not permitted"),
    ("{oops", "JSON decode error"),
]


@pytest.mark.parametrize(("body", "detail"), BAD_PATCH)
async def test_bad_patch_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: str, detail: str
) -> None:
    sid = (await new(client))["id"]
    await post(client, sid, "forward")
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.patch(
        f"/api/sessions/{sid}", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json() == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"epochs": 0}, "epochs: Input should be greater than or equal to 1"),
        ({"epochs": 100001}, "epochs: Input should be less than or equal to 100000"),
        ({"epochs": "many"}, "epochs"),
        ({}, "epochs: Field required"),
    ],
)
async def test_bad_train_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], detail: str
) -> None:
    sid = (await new(client))["id"]
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.post(f"/api/sessions/{sid}/train", json=body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json() == before


async def test_diverging_training_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    sid = (
        await new(
            client,
            layers=[2, 2, 1],
            activation="linear",
            output_activation="linear",
            learning_rate=100,
            input=[1000, 1000],
            target=[0],
        )
    )["id"]
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.post(f"/api/sessions/{sid}/train", json={"epochs": 100})
    assert response.status_code == 409
    assert "diverged" in response.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json() == before


async def test_a_train_is_refused_with_retry_after_while_every_slot_is_busy(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    sid = (await new(client))["id"]
    before = (await client.get(f"/api/sessions/{sid}")).json()
    pool: TrainingPool = app.state.pool
    with contextlib.ExitStack() as held:
        for _ in range(pool.slots):
            held.enter_context(pool.slot())
        refused = await client.post(f"/api/sessions/{sid}/train", json={"epochs": 10})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert "busy" in refused.json()["detail"]
    assert (await client.get(f"/api/sessions/{sid}")).json() == before
    assert (await post(client, sid, "train", epochs=10))["step"] == 10  # the slots are free again


async def test_a_new_session_is_refused_while_every_kept_one_is_in_recent_use(
    training_pool: TrainingPool,
) -> None:
    store = MemoryStore(ttl=7 * 24 * 3600.0, max_sessions=2)
    app = create_app(Settings(store="memory"), store=store, pool=training_pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        kept = [(await new(http))["id"] for _ in range(2)]
        refused = await http.post("/api/sessions")
        assert refused.status_code == 503
        assert 3595 <= int(refused.headers["retry-after"]) <= 3600  # when the older one is an hour old
        assert "all of them are in use" in refused.json()["detail"]
        for sid in kept:
            assert (await http.get(f"/api/sessions/{sid}")).status_code == 200
        assert store.count() == 2


async def test_fifty_concurrent_steps_are_serialised(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    responses = await asyncio.gather(*(client.post(f"/api/sessions/{sid}/step") for _ in range(50)))
    assert all(r.status_code == 200 for r in responses)
    final = (await client.get(f"/api/sessions/{sid}")).json()
    assert final["step"] == 50
    sequential = session.create("x")
    for _ in range(50):
        sequential = session.run_step(sequential)
    assert final["weights"] == [w.tolist() for w in sequential.params.weights]
    assert final["biases"] == [b.tolist() for b in sequential.params.biases]
    losses = (await client.get(f"/api/sessions/{sid}/losses")).json()
    assert losses == {"start": 0, "losses": list(sequential.loss_history)}


async def test_openapi_documents_models_and_examples(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert {"CreateSession", "EditSession", "SessionState", "TrainRequest", "ErrorBody"} <= schemas.keys()
    assert schemas["CreateSession"]["examples"][0] == {}
    create = spec["paths"]["/api/sessions"]["post"]
    assert {"201", "422"} <= create["responses"].keys()
    assert "409" in spec["paths"]["/api/sessions/{session_id}/backward"]["post"]["responses"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI is served by the app from the npm package, not from a CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert all(asset.startswith("/") for asset in assets), assets
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset
    assert json.dumps(spec)  # the spec is valid JSON all the way down


async def test_an_oversized_body_is_refused_unread(client: httpx.AsyncClient, store: MemoryStore) -> None:
    response = await client.post(
        "/api/sessions",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(5 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert "larger than 4 MB" in response.json()["detail"]
    response = await client.post(
        "/page/step",
        content=b"",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(33 * 1024 * 1024),
        },
    )
    assert response.status_code == 413
    assert "larger than 32 MB" in response.json()["detail"]
    response = await client.post(
        "/api/sessions/import",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(81 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert "larger than 80 MB" in response.json()["detail"]
    assert store.count() == 0


async def test_a_chunked_body_is_cut_off_at_the_limit(client: httpx.AsyncClient, store: MemoryStore) -> None:
    """No Content-Length: the bytes received are counted, and reading stops just past the limit."""
    sent = []

    async def forty_megabytes() -> AsyncIterator[bytes]:
        for _ in range(40):
            sent.append(1)
            yield b" " * 2**20

    response = await client.post(
        "/api/sessions", content=forty_megabytes(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than 4 MB" in response.json()["detail"]
    assert len(sent) == 5  # the 5th megabyte passed the limit; the rest was never asked for
    assert store.count() == 0


async def test_an_export_imports_back_gzip_compressed(client: httpx.AsyncClient) -> None:
    sid = (await new(client, seed=9))["id"]
    await post(client, sid, "train", epochs=50)
    original = (await client.get(f"/api/sessions/{sid}")).json()
    exported = (await client.get(f"/api/sessions/{sid}/export")).content
    response = await client.post(
        "/api/sessions/import",
        content=gzip.compress(exported),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 201, response.text
    assert {**response.json(), "id": sid, "follow_url": original["follow_url"]} == original


@pytest.mark.parametrize(
    ("body", "encoding", "status", "detail"),
    [
        (b"not gzip at all", "gzip", 422, "not valid gzip"),
        (gzip.compress(b"{}")[:-8], "gzip", 422, "ends early"),
        (gzip.compress(b" " * (81 * 2**20)), "gzip", 413, "decompressed body is larger than 80 MB"),
        (b"{}", "br", 415, "not supported"),
        (b"\xff\xfe{}", "identity", 422, "not UTF-8"),
        (b"[1, 2]", "identity", 422, "expected a JSON object"),
        (b"{", "identity", 422, "not JSON"),
    ],
)
async def test_bad_import_bodies_are_refused(
    client: httpx.AsyncClient, store: MemoryStore, body: bytes, encoding: str, status: int, detail: str
) -> None:
    response = await client.post(
        "/api/sessions/import",
        content=body,
        headers={"content-type": "application/json", "content-encoding": encoding},
    )
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert store.count() == 0


def largest_export() -> bytes:
    """The largest document export can write: 2,000,000 losses and 1,000 kept states of the
    largest network, every number as long as a float's repr gets (17 digits, a sign, an exponent;
    a loss is never negative)."""
    layers = [MAX_UNITS] * MAX_LAYERS
    arch = engine.Architecture(tuple(layers))
    params = engine.Parameters(
        tuple(np.full((n, m), -1.2345678901234567e-05) for n, m in itertools.pairwise(layers)),
        tuple(np.full(m, -1.2345678901234567e-05) for m in layers[1:]),
    )
    losses = np.full(MAX_LOSS_HISTORY, 1.2345678901234567e-05)
    kept = [history.Snapshot(k, 1.2345678901234567e-05, params, params, 0) for k in range(1, 1001)]
    big = session.create("big", layers=layers, input=[-0.5] * 8, target=[-0.5] * 8)
    big = dataclasses.replace(
        big, step=MAX_LOSS_HISTORY, history=history.history_of(losses, kept), params=params
    )
    assert big.arch == arch
    return json.dumps(codec.to_document(big), separators=(",", ":")).encode()


async def test_the_largest_export_imports_back(client: httpx.AsyncClient) -> None:
    """Every export can be imported: the largest one (about 61 MB) is under the import limit, as
    sent and gzip-compressed."""
    document = largest_export()
    assert 60 * 2**20 < len(document) <= MAX_IMPORT_BYTES
    for body, headers in ((document, {}), (gzip.compress(document, 1), {"content-encoding": "gzip"})):
        response = await client.post(
            "/api/sessions/import", content=body, headers={"content-type": "application/json", **headers}
        )
        assert response.status_code == 201, response.text[:300]
        assert response.json()["loss_count"] == MAX_LOSS_HISTORY


# --------------------------------------------------------------------------------------------
# The losses, apart from the state
# --------------------------------------------------------------------------------------------


async def test_losses_come_a_page_at_a_time_exactly(client: httpx.AsyncClient) -> None:
    sid = (await new(client, seed=2))["id"]
    state = await post(client, sid, "train", epochs=1500)
    expected = session.train(session.create("x", seed=2), 1500).loss_history
    assert state["loss_count"] == 1500
    assert state["recent_losses"] == list(expected[-100:])
    pages = []
    for start in range(0, 1500, 700):  # pages cross the store's 512-loss chunks
        page = (await client.get(f"/api/sessions/{sid}/losses", params={"start": start, "limit": 700})).json()
        assert page["start"] == start
        pages += page["losses"]
    assert pages == list(expected)
    tail = (await client.get(f"/api/sessions/{sid}/losses", params={"start": 1499, "limit": 5})).json()
    assert tail == {"start": 1499, "losses": [expected[-1]]}
    past = (await client.get(f"/api/sessions/{sid}/losses", params={"start": 5000})).json()
    assert past == {"start": 5000, "losses": []}


async def test_losses_lead_to_the_current_state_only(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    states = [await post(client, sid, "step") for _ in range(5)]
    restored = await post(client, sid, "history/2/restore")
    assert restored["loss_count"] == 2
    assert restored["recent_losses"] == states[-1]["recent_losses"][:2]
    page = (await client.get(f"/api/sessions/{sid}/losses")).json()
    assert page["losses"] == states[-1]["recent_losses"][:2]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 100_001}, "limit"),
        ({"start": -1}, "start"),
        ({"points": 0}, "points"),
        ({"points": 1025}, "points"),
        ({"limit": "ten"}, "limit"),
    ],
)
async def test_losses_refuse_bad_queries(
    client: httpx.AsyncClient, query: dict[str, Any], field: str
) -> None:
    sid = (await new(client))["id"]
    response = await client.get(f"/api/sessions/{sid}/losses", params=query)
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_the_loss_curve_is_the_min_max_envelope(client: httpx.AsyncClient) -> None:
    sid = (await new(client, seed=4, learning_rate=3.0))["id"]
    await post(client, sid, "train", epochs=5000)
    exact = np.array(
        (await client.get(f"/api/sessions/{sid}/losses", params={"limit": 5000})).json()["losses"]
    )
    curve = (await client.get(f"/api/sessions/{sid}/losses", params={"points": 100})).json()
    assert curve["count"] == 5000
    assert len(curve["low"]) <= 100 and curve["width"] == 64  # 5000 / 64 → 79 buckets; / 32 → 157
    for k, first in enumerate(curve["steps"]):
        bucket = exact[first - 1 : first - 1 + curve["width"]]
        assert curve["low"][k] == bucket.min() and curve["high"][k] == bucket.max()
        assert exact[curve["low_steps"][k] - 1] == bucket.min()
        assert exact[curve["high_steps"][k] - 1] == bucket.max()
    short = (await client.get(f"/api/sessions/{sid}/losses", params={"points": 1024})).json()
    assert short["width"] == 8  # 5000 losses need 8 per bucket to fit in 1,024


async def test_the_state_stays_small_after_long_training(client: httpx.AsyncClient) -> None:
    sid = (await new(client))["id"]
    fresh = await client.get(f"/api/sessions/{sid}")
    await post(client, sid, "train", epochs=100_000)
    trained = await client.get(f"/api/sessions/{sid}")
    assert trained.json()["loss_count"] == 100_000
    assert len(fresh.content) < 10_000
    assert len(trained.content) < 10_000


# --------------------------------------------------------------------------------------------
# Presets and share links
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
    del state["id"], state["follow_url"]
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
    assert response.json()["detail"] == "preset: Input should be 'article', 'mazur' or 'xor'"
    assert store.count() == count


async def test_api_share_link(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = (await client.post("/api/sessions", json={"preset": "xor"})).json()["id"]
    await client.post(f"/api/sessions/{sid}/train", json={"epochs": 3})
    response = await client.get(f"/api/sessions/{sid}/share")
    assert response.status_code == 200
    token = share.encode(store.get(sid))
    assert response.json() == {"token": token, "url": f"http://testserver/share/{token}"}
    assert response.headers["cache-control"] == "no-store"  # the link names the host asked
    opened = await client.get(response.json()["url"], follow_redirects=False)
    assert opened.status_code == 303
    assert_same_parameters(store.get(new_cookie(opened)), store.get(sid))
    assert (await client.get("/api/sessions/nope/share")).status_code == 404


async def test_share_links_are_on_the_public_url_when_there_is_one(training_pool: TrainingPool) -> None:
    settings = Settings(store="memory", public_url="https://backprop.example.org/class")
    app = create_app(settings, store=MemoryStore(ttl=3600.0, max_sessions=10), pool=training_pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evil.test") as http:
        sid = (await new(http))["id"]
        shared = await http.get(f"/api/sessions/{sid}/share", headers={"Host": "attacker.example"})
    token = shared.json()["token"]
    assert shared.json()["url"] == f"https://backprop.example.org/class/share/{token}"
    assert shared.headers["cache-control"] == "no-store"


async def test_openapi_documents_the_new_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/presets" in spec["paths"]
    assert "/api/sessions/{session_id}/share" in spec["paths"]
    assert "/share/{token}" not in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"PresetInfo", "ShareLink"} <= schemas.keys()
    assert "preset" in schemas["CreateSession"]["properties"]


# --------------------------------------------------------------------------------------------
# Background training runs: start, progress, cancel
# --------------------------------------------------------------------------------------------


async def until_ended(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    for _ in range(600):
        state: dict[str, Any] = (await client.get(f"/api/sessions/{sid}/runs")).json()
        if state["state"] != "running":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the run did not end")


async def test_a_run_ends_with_the_same_session_as_train(client: httpx.AsyncClient) -> None:
    a, b = await new_id(client), await new_id(client)
    started = await client.post(f"/api/sessions/{a}/runs", json={"epochs": 200})
    assert started.status_code == 202
    assert started.json()["state"] == "running" and started.json()["steps_total"] == 200
    ended = await until_ended(client, a)
    assert ended["state"] == "done" and ended["steps_done"] == 200 and ended["finished"] is not None
    trained = (await client.post(f"/api/sessions/{b}/train", json={"epochs": 200})).json()
    state = (await client.get(f"/api/sessions/{a}")).json()
    assert state["weights"] == trained["weights"] and state["recent_losses"] == trained["recent_losses"]


async def test_one_run_at_a_time_and_cancel(client: httpx.AsyncClient) -> None:
    sid = await new_id(client)
    assert (await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 100000})).status_code == 202
    second = await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 5})
    assert second.status_code == 409 and "already going on" in second.json()["detail"]
    # the session answers while the run goes on
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 200
    cancelled = await client.delete(f"/api/sessions/{sid}/runs")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["state"] == "cancelled" and 0 < body["steps_done"] < 100000
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == body["steps_done"]
    # Deleted: the run is gone (how it ended was the answer to the DELETE).
    assert (await client.get(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.delete(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 5})).status_code == 202


async def test_reset_cancels_a_run_before_it_resets(client: httpx.AsyncClient, app: FastAPI) -> None:
    sid = await new_id(client)
    assert (await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 100000})).status_code == 202
    reset = await client.post(f"/api/sessions/{sid}/reset")
    assert reset.status_code == 200 and reset.json()["step"] == 0
    status = (await client.get(f"/api/sessions/{sid}/runs")).json()
    assert status["state"] == "cancelled"  # ended before the reset: no chunk of it can come after
    assert (await client.get(f"/api/sessions/{sid}")).json()["step"] == 0
    assert (await client.post(f"/api/sessions/{sid}/reset")).status_code == 200  # no run: resets alike


async def test_delete_cancels_a_run(client: httpx.AsyncClient, app: FastAPI) -> None:
    sid = await new_id(client)
    assert (await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 100000})).status_code == 202
    assert (await client.delete(f"/api/sessions/{sid}")).status_code == 204
    status = app.state.runs.status(sid)
    assert status.state == "cancelled" and not status.active
    assert (await client.get(f"/api/sessions/{sid}")).status_code == 404


async def test_run_errors(client: httpx.AsyncClient) -> None:
    sid = await new_id(client)
    assert (await client.get(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.delete(f"/api/sessions/{sid}/runs")).status_code == 404
    assert (await client.get("/api/sessions/nope/runs")).status_code == 404
    assert (await client.post("/api/sessions/nope/runs", json={"epochs": 1})).status_code == 404
    bad = await client.post(f"/api/sessions/{sid}/runs", json={"epochs": 0})
    assert bad.status_code == 422 and "epochs" in bad.json()["detail"]
