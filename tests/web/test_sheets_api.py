"""The sheets API (app/sheets_api.py) through httpx: make, read, grade, key; the key against
/explain for a session built from the sheet's numbers; nothing leaks the answers or the seed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import sheets
from app.issued_sheets import SheetRecords, Sheets
from app.store import MemoryStore

pytestmark = pytest.mark.anyio

KEYS = {"code", "sheet_url", "key_url", "key_token", "quantities"}
#: The check's phase for each sheet phase, and the steps that reach it.
STEPS = {
    "forward": ("forward",),
    "backward": ("forward", "backward"),
    "update": ("forward", "backward", "update"),
}


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/sheets", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def key_of(client: httpx.AsyncClient, created: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(
        f"/api/sheets/{created['code']}/key", headers={"Authorization": f"Bearer {created['key_token']}"}
    )
    assert response.status_code == 200, response.text
    key: dict[str, Any] = response.json()
    return key


async def test_make_a_sheet(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/sheets", json={"preset": "article", "seed": 42, "blanks": 8})
    assert response.status_code == 201
    body = response.json()
    assert body.keys() == KEYS
    code, token = body["code"], body["key_token"]
    assert response.headers["location"] == f"/api/sheets/{code}"
    assert body["sheet_url"] == f"http://testserver/sheets/{code}"
    assert body["key_url"] == f"http://testserver/sheets/{code}/key?token={token}"
    expected = sheets.build(sheets.SheetSpec("article", 42, 8))
    assert body["quantities"] == [blank.quantity() for blank in expected.blanks]
    assert all(len(q) == 2 and "phase" in q for q in body["quantities"])


async def test_same_preset_and_seed_same_sheet(client: httpx.AsyncClient) -> None:
    first = await make(client, preset="xor", seed=9, blanks=6, phases=["update", "forward"])
    again = await make(client, preset="xor", seed=9, blanks=6, phases=["forward", "update"])
    assert first == again
    other = await make(client, preset="xor", seed=10, blanks=6, phases=["forward", "update"])
    assert other["code"] != first["code"] and other["key_token"] != first["key_token"]


async def test_a_seed_is_drawn_when_none_is_given(client: httpx.AsyncClient) -> None:
    codes = {(await make(client, blanks=3))["code"] for _ in range(4)}
    assert len(codes) > 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"blanks": 0}, "blanks: Input should be greater than or equal to 1"),
        ({"blanks": 21}, "blanks: Input should be less than or equal to 20"),
        ({}, "blanks: Field required"),
        ({"blanks": 5, "seed": -1}, "seed: Input should be greater than or equal to 0"),
        ({"blanks": 5, "phases": []}, "phases: List should have at least 1 item after validation, not 0"),
        (
            {"blanks": 5, "phases": ["sideways"]},
            "phases.0: Input should be 'forward', 'backward' or 'update'",
        ),
        ({"blanks": 5, "preset": "nope"}, "preset: Input should be 'article', 'mazur' or 'xor'"),
        ({"blanks": 5, "colour": "red"}, "colour: Extra inputs are not permitted"),
        (
            {"preset": "mazur", "blanks": 6, "phases": ["forward"], "seed": 1},
            "blanks: the mazur network has 5 quantities in the phases forward; "
            "ask for at most that many, got 6",
        ),
    ],
)
async def test_a_bad_request_says_why(client: httpx.AsyncClient, body: dict[str, Any], detail: str) -> None:
    response = await client.post("/api/sheets", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == detail


async def test_the_given_numbers_and_no_answers(client: httpx.AsyncClient) -> None:
    created = await make(client, preset="mazur", seed=5, blanks=4)
    response = await client.get(f"/api/sheets/{created['code'].lower().replace('-', ' ')}")
    assert response.status_code == 200
    info = response.json()
    sheet = sheets.build(sheets.SheetSpec("mazur", 5, 4))
    assert info["code"] == created["code"] and info["quantities"] == created["quantities"]
    assert (info["layers"], info["learning_rate"], info["train_biases"]) == ([2, 2, 2], 0.5, False)
    assert info["weights"] == [w.tolist() for w in sheet.start.params.weights]
    assert (info["input"], info["target"]) == (sheet.start.input, sheet.start.target)
    assert "seed" not in info


async def test_the_key_equals_explain_for_a_session_built_from_the_sheets_numbers(
    client: httpx.AsyncClient,
) -> None:
    for preset, seed in (("article", 3), ("mazur", 4), ("xor", 5)):
        created = await make(client, preset=preset, seed=seed, blanks=20)
        info = (await client.get(f"/api/sheets/{created['code']}")).json()
        fields = ("layers", "activation", "output_activation", "loss", "learning_rate", "train_biases")
        body = {name: info[name] for name in (*fields, "weights", "biases", "input", "target")}
        results: dict[str, dict[str, float]] = {}
        for phase, steps in STEPS.items():
            sid_phase = (await client.post("/api/sessions", json=body)).json()["id"]
            for step in steps:
                assert (await client.post(f"/api/sessions/{sid_phase}/{step}")).status_code == 200
            results[phase] = {}
            for quantity in created["quantities"]:
                if quantity["phase"] != phase:
                    continue
                kind = next(k for k in quantity if k != "phase")
                params = {"loss": "true"} if kind == "loss" else {kind: ",".join(map(str, quantity[kind]))}
                explained = await client.get(f"/api/sessions/{sid_phase}/explain", params=params)
                assert explained.status_code == 200, explained.text
                results[phase][json.dumps(quantity, sort_keys=True)] = explained.json()["result"]
        key = await key_of(client, created)
        assert [a["quantity"] for a in key["answers"]] == created["quantities"]
        for answer in key["answers"]:
            quantity = answer["quantity"]
            assert answer["value"] == results[quantity["phase"]][json.dumps(quantity, sort_keys=True)]


async def test_grading_the_key_scores_full_marks_and_perturbed_values_none(client: httpx.AsyncClient) -> None:
    created = await make(client, preset="article", seed=11, blanks=20)
    key = await key_of(client, created)
    response = await client.post(f"/api/sheets/{created['code']}/grade", json=key)
    assert response.status_code == 200
    graded = response.json()
    assert graded == {
        "score": 20,
        "out_of": 20,
        "results": [{"quantity": q, "correct": True} for q in created["quantities"]],
    }
    off = {"answers": [{**a, "value": a["value"] * 1.02 + 1e-4} for a in reversed(key["answers"])]}
    graded = (await client.post(f"/api/sheets/{created['code']}/grade", json=off)).json()
    assert graded["score"] == 0 and [r["correct"] for r in graded["results"]] == [False] * 20
    assert [r["quantity"] for r in graded["results"]] == created["quantities"]  # the sheet's order


async def test_grading_never_reveals_the_expected_values(client: httpx.AsyncClient) -> None:
    created = await make(client, preset="article", seed=12, blanks=10)
    key = await key_of(client, created)
    wrong = {"answers": [{**a, "value": 123.0} for a in key["answers"]]}
    bodies: list[dict[str, Any]] = [key, wrong, {"answers": []}]
    for body in bodies:
        text = (await client.post(f"/api/sheets/{created['code']}/grade", json=body)).text
        for answer in key["answers"]:
            value = answer["value"]
            for shown in (repr(value), f"{value:.4g}", f"{value:.6f}", f"{value:.3e}"):
                assert shown not in text.replace(repr(123.0), "")


async def test_a_partial_answer_scores_what_it_answers(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=13, blanks=5)
    key = await key_of(client, created)
    body = {"answers": key["answers"][1:3]}
    graded = (await client.post(f"/api/sheets/{created['code']}/grade", json=body)).json()
    assert graded["score"] == 2 and [r["correct"] for r in graded["results"]] == [
        False,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("answers", "detail"),
    [
        ([{"quantity": {"unit": [1, 0]}, "value": 1}], "answers.0.quantity.phase: Field required"),
        (
            [{"quantity": {"unit": [1, 0], "bias": [0, 0], "phase": "forward"}, "value": 1}],
            "answers.0.quantity: Value error, give exactly one of unit, weight, bias or loss (and the phase)",
        ),
        (
            [{"quantity": {"unit": [9, 9], "phase": "forward"}, "value": 1}],
            'answers: {"unit": [9, 9], "phase": "forward"} is not a blank of this sheet',
        ),
        (
            [{"quantity": {"loss": False, "phase": "forward"}, "value": 1}],
            "answers.0.quantity.loss: Input should be True",
        ),
        (
            [{"quantity": {"unit": ["1", 0], "phase": "forward"}, "value": 1}],
            "answers.0.quantity.unit.0: Input should be a valid integer",
        ),
        (
            [{"quantity": {"unit": [1, 0], "phase": "forward"}, "value": "NaN"}],
            "answers.0.value: Input should be a valid number",  # a string, however it reads
        ),
    ],
)
async def test_bad_answers_are_refused_with_a_reason(
    client: httpx.AsyncClient, answers: list[dict[str, Any]], detail: str
) -> None:
    created = await make(client, seed=14, blanks=3)
    response = await client.post(f"/api/sheets/{created['code']}/grade", json={"answers": answers})
    assert response.status_code == 422
    assert response.json()["detail"] == detail


async def test_an_answer_given_twice_is_refused(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=15, blanks=3)
    answer = {"quantity": created["quantities"][0], "value": 0.5}
    response = await client.post(f"/api/sheets/{created['code']}/grade", json={"answers": [answer, answer]})
    assert response.status_code == 422 and "is answered twice" in response.json()["detail"]


async def test_the_key_needs_its_token(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=16, blanks=3)
    other = await make(client, seed=17, blanks=3)
    url = f"/api/sheets/{created['code']}/key"
    for headers in (
        {},
        {"Authorization": f"Bearer {other['key_token']}"},
        {"Authorization": f"Bearer {created['key_token']}x"},
        {"Authorization": f"Basic {created['key_token']}"},
        {"Authorization": "Bearer"},
    ):
        response = await client.get(url, headers=headers)
        assert response.status_code == 403, headers
        assert "key token" in response.json()["detail"]
    assert (await client.get(url, params={"token": created["key_token"]})).status_code == 403


async def test_unknown_codes_are_404(client: httpx.AsyncClient) -> None:
    created = await make(client, seed=18, blanks=3)
    token = {"Authorization": f"Bearer {created['key_token']}"}
    for code in ("0000-0000-0000", "nonsense"):
        assert (await client.get(f"/api/sheets/{code}")).status_code == 404
        assert (await client.get(f"/api/sheets/{code}/key", headers=token)).status_code == 404
        response = await client.post(f"/api/sheets/{code}/grade", json={"answers": []})
        assert response.status_code == 404
        assert "no sheet" in response.json()["detail"]


async def test_sheets_expire_with_the_sessions_ttl(app: FastAPI, client: httpx.AsyncClient) -> None:
    now = [0.0]
    store = MemoryStore(ttl=100.0, max_sessions=10, clock=lambda: now[0])
    app.state.sheets = Sheets(SheetRecords(store, 100.0), lambda: b"k" * 32)
    created = await make(client, seed=19, blanks=3)
    now[0] = 99.0
    assert (await client.get(f"/api/sheets/{created['code']}")).status_code == 200
    now[0] = 200.0  # 101 s after its last use
    assert (await client.get(f"/api/sheets/{created['code']}")).status_code == 404


async def test_the_store_keeps_the_spec_alone(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = await make(client, preset="xor", seed=20, blanks=3)
    records = app.state.sheets.records
    assert records.get(created["code"]) == sheets.SheetSpec("xor", 20, 3)


async def test_no_seed_in_anything_returned(client: httpx.AsyncClient) -> None:
    seed = 3141592653
    created = await make(client, seed=seed, blanks=20)
    texts = [json.dumps(created), (await client.get(f"/api/sheets/{created['code']}")).text]
    texts.append(json.dumps(await key_of(client, created)))
    assert not any(str(seed) in text for text in texts)


async def test_every_new_operation_is_documented_with_examples(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert {"/api/sheets", "/api/sheets/{code}", "/api/sheets/{code}/grade", "/api/sheets/{code}/key"} <= set(
        paths
    )
    components = schema["components"]["schemas"]
    models = (
        "SheetRequest",
        "SheetCreated",
        "SheetInfo",
        "GradeRequest",
        "GradeResponse",
        "KeyResponse",
        "Quantity",
    )
    for model in models:
        assert components[model].get("examples"), model
    assert paths["/api/sheets/{code}/key"]["get"]["security"] == [{"Key token": []}]
    assert (
        "application/x-ipynb+json"
        in paths["/api/sessions/{session_id}/notebook"]["get"]["responses"]["200"]["content"]
    )
