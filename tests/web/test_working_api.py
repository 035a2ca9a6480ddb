"""Show the working through the API (app/web/working_api.py): GET /explain, POST /check and
GET /gradient-check, each against the engine's numbers; none of them changes the session."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from app import engine, explain, session
from app.store import MemoryStore
from app.web.replies import explanation_of
from tests.web.test_api import new_id

pytestmark = pytest.mark.anyio


EXPLAIN_KEYS = {"quantity", "kind", "index", "phase", "title", "terms", "equations", "result", "mathml"}


GRADIENT_CHECK_TOLERANCE = 1e-8


async def run(client: httpx.AsyncClient, sid: str, *steps: str) -> None:
    for step in steps:
        response = await client.post(f"/api/sessions/{sid}/{step}")
        assert response.status_code == 200, response.text


async def state(client: httpx.AsyncClient, sid: str) -> Any:
    return (await client.get(f"/api/sessions/{sid}")).json()


async def test_explain_hidden_weight_after_backward(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = await new_id(client)
    await run(client, sid, "forward", "backward")
    response = await client.get(f"/api/sessions/{sid}/explain", params={"weight": "0,0,0"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == EXPLAIN_KEYS
    assert (body["quantity"], body["kind"], body["index"], body["phase"]) == (
        "∂L/∂w11",
        "weight",
        [0, 0, 0],
        "backward",
    )
    assert body["title"] == "Gradient of hidden weight w11 (after backward)"
    assert [e["lhs"] for e in body["equations"]] == ["∂L/∂h1", "∂L/∂w11"]
    assert {"lhs", "relation", "symbolic", "numeric", "result", "note"} == body["equations"][0].keys()
    assert [t["symbol"] for t in body["terms"]] == ["δ(2)1", "u11", "δ(2)2", "u12", "∂L/∂h1", "h1", "x1"]
    # The very float of the engine, through JSON and back.
    backward = (await state(client, sid))["backward"]
    assert body["result"] == backward["weight_gradients"][0][0][0]
    arch = engine.Architecture()
    params = engine.init_parameters(arch, 0)
    fwd = engine.forward(arch, params, [0.05, 0.1], [0.01, 0.99])  # type: ignore[arg-type]
    assert body["result"] == engine.backward(arch, params, fwd).weight_gradient(0)[0, 0]
    assert body == explanation_of(explain.explain(store.get(sid), "weight", (0, 0, 0))).model_dump()
    assert ET.fromstring(body["mathml"]).tag == "{http://www.w3.org/1998/Math/MathML}math"


@pytest.mark.parametrize(
    ("steps", "query", "quantity", "value"),
    [
        (["forward"], {"unit": "0,1"}, "x2", lambda s: s["input"][1]),
        (["forward"], {"unit": "1,2"}, "h3", lambda s: s["forward"]["activations"][1][2]),
        (["forward"], {"unit": "2,0"}, "y1", lambda s: s["forward"]["activations"][2][0]),
        (["forward"], {"loss": "true"}, "L", lambda s: s["forward"]["loss"]),
        (["substep"], {"unit": "1,0"}, "h1", lambda s: s["forward"]["activations"][1][0]),
        (["forward", "substep"], {"unit": "2,1"}, "δ(2)2", lambda s: s["backward"]["deltas"][1][1]),
        (["forward", "substep"], {"unit": "1,1"}, "h2", lambda s: s["forward"]["activations"][1][1]),
        (
            ["forward", "substep"],
            {"weight": "1,2,1"},
            "∂L/∂u32",
            lambda s: s["backward"]["weight_gradients"][1][2][1],
        ),
        (["forward", "backward"], {"unit": "1,1"}, "δ(1)2", lambda s: s["backward"]["deltas"][0][1]),
        (
            ["forward", "backward"],
            {"bias": "0,2"},
            "∂L/∂b(1)3",
            lambda s: s["backward"]["bias_gradients"][0][2],
        ),
        (["step"], {"weight": "1,2,1"}, "u32", lambda s: s["weights"][1][2][1]),
        (["step"], {"bias": "1,0"}, "b(2)1", lambda s: s["biases"][1][0]),
        (["step"], {"unit": "2,0"}, "δ(2)1", lambda s: s["backward"]["deltas"][1][0]),
        (["step"], {"loss": "1"}, "L", lambda s: s["recent_losses"][-1]),
    ],
)
async def test_explain_arrives_at_the_number_the_state_shows(
    client: httpx.AsyncClient, steps: list[str], query: dict[str, str], quantity: str, value: Any
) -> None:
    sid = await new_id(client)
    await run(client, sid, *steps)
    response = await client.get(f"/api/sessions/{sid}/explain", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quantity"] == quantity
    assert body["result"] == value(await state(client, sid))
    assert body["equations"][-1]["result"] == body["result"]


async def test_explain_on_a_deeper_network(client: httpx.AsyncClient) -> None:
    sid = await new_id(client, layers=[2, 3, 3, 2], activation="tanh", output_activation="linear")
    await run(client, sid, "forward", "backward")
    body = (await client.get(f"/api/sessions/{sid}/explain", params={"weight": "1,2,0"})).json()
    assert body["quantity"] == "∂L/∂w(2)31"
    assert body["equations"][0]["symbolic"].startswith("Σ_k δ(3)_k · w(3)_1k")
    assert body["result"] == (await state(client, sid))["backward"]["weight_gradients"][1][2][0]


@pytest.mark.parametrize(
    ("steps", "query", "status", "detail"),
    [
        ([], "weight=0,0,0", 409, "run forward, then backward, first"),
        ([], "unit=1,0", 409, "run forward first"),
        ([], "loss=true", 409, "run forward first"),
        (["forward"], "weight=1,0,0", 409, "run backward first"),
        (["forward"], "bias=0,0", 409, "run backward first"),
        (["substep"], "unit=2,0", 409, "reaches layer 2"),
        (["forward", "substep"], "weight=0,0,0", 409, "reaches layer 1"),
        (["forward"], "weight=2,0,0", 422, "weight: l must lie in 0..1"),
        (["forward"], "weight=0,2,0", 422, "i must lie in 0..1 and j in 0..2"),
        (["forward"], "unit=3,0", 422, "unit: layer l must lie in 0..2"),
        (["forward"], "bias=1,2", 422, "bias: biases[1] has j = 0..1"),
        (["forward"], "weight=0,0", 422, "expected l,i,j (3 numbers)"),
        (["forward"], "weight=0,0,0&unit=1,0", 422, "give exactly one"),
        (["forward"], "", 422, "give exactly one"),
        (["forward"], "loss=false", 422, "give exactly one"),
        (["forward"], "unit=one,two", 422, "expected whole numbers separated by commas"),
        (["forward"], "unit=1,-1", 422, "expected whole numbers separated by commas"),
        (["forward"], "unit=", 422, "expected whole numbers separated by commas"),
        (["forward"], "loss=perhaps", 422, "loss"),
        ([], "weight=9,9,9", 422, "weight: l must lie"),  # a bad index is 422 even before any step
    ],
)
async def test_explain_errors(
    client: httpx.AsyncClient, steps: list[str], query: str, status: int, detail: str
) -> None:
    sid = await new_id(client)
    await run(client, sid, *steps)
    response = await client.get(f"/api/sessions/{sid}/explain?{query}")
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "explain?unit=0,0", None),
        ("POST", "check", {"unit": [0, 0], "value": 0.05}),
        ("GET", "gradient-check", None),
    ],
)
async def test_unknown_session_is_404(client: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    response = await client.request(method, f"/api/sessions/nope/{path}", json=body)
    assert response.status_code == 404
    assert "no session" in response.json()["detail"]


async def test_check_a_value_rounded_to_four_digits_is_correct(client: httpx.AsyncClient) -> None:
    sid = await new_id(client)
    await run(client, sid, "forward", "backward")
    explained = (await client.get(f"/api/sessions/{sid}/explain", params={"weight": "1,2,1"})).json()
    expected = explained["result"]
    response = await client.post(
        f"/api/sessions/{sid}/check", json={"weight": [1, 2, 1], "value": float(f"{expected:.4g}")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"correct", "expected", "tolerance", "explanation"}
    assert body["correct"] is True
    assert body["expected"] == expected
    assert body["tolerance"] == max(5e-4 * abs(expected), 1e-9)
    assert body["explanation"] == explained
    wrong = await client.post(
        f"/api/sessions/{sid}/check", json={"weight": [1, 2, 1], "value": expected * 1.01}
    )
    assert wrong.json()["correct"] is False


@pytest.mark.parametrize(
    ("steps", "body", "expected"),
    [
        (["forward"], {"unit": [1, 0]}, lambda s: s["forward"]["activations"][1][0]),
        (["forward"], {"unit": [0, 1]}, lambda s: s["input"][1]),
        (["forward"], {"loss": True}, lambda s: s["forward"]["loss"]),
        (["forward", "backward"], {"bias": [1, 1]}, lambda s: s["backward"]["bias_gradients"][1][1]),
        (["step"], {"weight": [0, 1, 2]}, lambda s: s["weights"][0][1][2]),
    ],
)
async def test_check_expects_what_explain_gives(
    client: httpx.AsyncClient, steps: list[str], body: dict[str, Any], expected: Any
) -> None:
    sid = await new_id(client)
    await run(client, sid, *steps)
    want = expected(await state(client, sid))
    response = await client.post(f"/api/sessions/{sid}/check", json={**body, "value": want})
    assert response.status_code == 200, response.text
    assert response.json()["expected"] == want
    assert response.json()["correct"] is True


@pytest.mark.parametrize(
    ("content", "status", "detail"),
    [
        ('{"weight": [1, 2, 1], "value": NaN}', 422, "value"),
        ('{"weight": [1, 2, 1], "value": Infinity}', 422, "value"),
        ('{"weight": [1, 2, 1]}', 422, "value"),
        ('{"weight": [1, 2, 1], "bias": [0, 0], "value": 0.1}', 422, "give exactly one"),
        ('{"value": 0.1}', 422, "give exactly one"),
        ('{"weight": [1, 2, 1], "value": 0.1, "extra": 1}', 422, "extra"),
        ('{"weight": ["1", 2, 1], "value": 0.1}', 422, "weight"),
        ('{"weight": [1.5, 2, 1], "value": 0.1}', 422, "weight"),
        ('{"weight": [1, 2], "value": 0.1}', 422, "expected l,i,j"),
        ('{"weight": [1, 3, 1], "value": 0.1}', 422, "i must lie in 0..2"),
        ('{"unit": [-1, 0], "value": 0.1}', 422, "unit: layer l must lie"),
        ('{"weight": [1, 2, 1], "value": "a lot"}', 422, "value"),
    ],
)
async def test_check_errors(client: httpx.AsyncClient, content: str, status: int, detail: str) -> None:
    sid = await new_id(client)
    await run(client, sid, "forward", "backward")
    response = await client.post(
        f"/api/sessions/{sid}/check", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


async def test_check_before_anything_is_computed_is_409(client: httpx.AsyncClient) -> None:
    sid = await new_id(client)
    response = await client.post(f"/api/sessions/{sid}/check", json={"weight": [1, 2, 1], "value": 0.0821})
    assert response.status_code == 409
    assert "run forward, then backward, first" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"layers": [2, 3, 3, 2], "activation": "tanh", "output_activation": "linear"},
        {"dataset": "xor", "mode": "batch"},
    ],
    ids=["2-3-2", "deep", "xor batch"],
)
async def test_gradient_check_covers_every_parameter(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    sid = await new_id(client, **body)
    response = await client.get(f"/api/sessions/{sid}/gradient-check")
    assert response.status_code == 200, response.text
    checked = response.json()
    assert checked.keys() == {"epsilon", "rows", "max_abs_difference"}
    assert checked["epsilon"] == 1e-6
    layers = (await state(client, sid))["layers"]
    assert len(checked["rows"]) == sum(a * b + b for a, b in itertools.pairwise(layers))
    for row in checked["rows"]:
        assert row.keys() == {
            "name",
            "kind",
            "index",
            "backprop",
            "numerical",
            "difference",
            "relative_error",
        }
        assert abs(row["difference"]) < GRADIENT_CHECK_TOLERANCE
    assert checked["max_abs_difference"] < GRADIENT_CHECK_TOLERANCE
    assert math.isclose(checked["max_abs_difference"], max(abs(r["difference"]) for r in checked["rows"]))


async def test_gradient_check_epsilon(client: httpx.AsyncClient) -> None:
    sid = await new_id(client)
    coarse = await client.get(f"/api/sessions/{sid}/gradient-check", params={"epsilon": 1e-4})
    assert coarse.status_code == 200 and coarse.json()["epsilon"] == 1e-4
    for bad in ("0", "-1", "1", "nan", "tiny"):
        response = await client.get(f"/api/sessions/{sid}/gradient-check", params={"epsilon": bad})
        assert response.status_code == 422, bad


@pytest.mark.parametrize(
    "steps", [[], ["forward"], ["forward", "substep"], ["forward", "backward"], ["step"]]
)
async def test_explain_check_and_gradient_check_change_nothing(
    client: httpx.AsyncClient, steps: list[str]
) -> None:
    sid = await new_id(client, dataset="xor", mode="batch")
    await run(client, sid, *steps)
    before = await state(client, sid)
    exported = (await client.get(f"/api/sessions/{sid}/export")).json()
    await client.get(f"/api/sessions/{sid}/explain", params={"unit": "1,0"})
    await client.get(f"/api/sessions/{sid}/explain", params={"weight": "0,0,0"})
    await client.get(f"/api/sessions/{sid}/explain", params={"loss": "true"})
    await client.post(f"/api/sessions/{sid}/check", json={"bias": [1, 0], "value": 0.5})
    await client.get(f"/api/sessions/{sid}/gradient-check")
    assert await state(client, sid) == before
    assert (await client.get(f"/api/sessions/{sid}/export")).json() == exported


async def test_the_stored_session_is_not_replaced(client: httpx.AsyncClient, store: MemoryStore) -> None:
    sid = await new_id(client)
    await run(client, sid, "forward", "backward")
    stored = store.get(sid)
    await client.get(f"/api/sessions/{sid}/gradient-check")
    await client.post(f"/api/sessions/{sid}/check", json={"unit": [1, 0], "value": 0.5})
    assert store.get(sid) is stored
    assert session.run_update(store.get(sid)).step == 1


async def test_openapi_documents_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "get" in paths["/api/sessions/{session_id}/explain"]
    assert "post" in paths["/api/sessions/{session_id}/check"]
    assert "get" in paths["/api/sessions/{session_id}/gradient-check"]
