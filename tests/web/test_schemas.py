"""The request models: strict types (no bool or string for a number), every list bounded by its
length before any item is read, unknown fields named (one error for a flood of them), and the
names the schema enumerates equal to the core's. Then the same through the API: a hostile body
costs one short answer, and a real server's /healthz answers while such bodies arrive."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from app import training
from app.datasets import BUILTIN
from app.engine.functions import ACTIVATIONS, LOSSES
from app.limits import MAX_API_BODY_BYTES, MAX_SAMPLES, MAX_VALIDATION_ERRORS
from app.presets import PRESETS
from app.session import MODES, PHASES
from app.session import phases as session_phases
from app.store import MemoryStore
from app.web.schemas import (
    Activation,
    ActivationName,
    CheckRequest,
    CreateSession,
    DatasetChoice,
    DatasetName,
    EditSession,
    LossFunction,
    LossName,
    Mode,
    ModeName,
    Phase,
    PresetChoice,
    PresetName,
    RunStateName,
    Step,
    TrainRequest,
)
from tests.processes import clean_environment, free_port, running

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(
    ("enum", "literal", "core"),
    [
        (Activation, ActivationName, set(ACTIVATIONS)),
        (LossFunction, LossName, set(LOSSES)),
        (DatasetName, DatasetChoice, set(BUILTIN)),
        (Mode, ModeName, set(MODES)),
        (PresetName, PresetChoice, set(PRESETS)),
        (Phase, None, set(PHASES)),
        (Step, None, set(get_args(session_phases.Step))),
        (RunStateName, None, set(get_args(training.RunState))),
    ],
)
def test_the_names_in_the_schema_are_the_cores(enum: Any, literal: Any, core: set[str]) -> None:
    assert {member.value for member in enum} == core
    if literal is not None:
        assert set(get_args(literal)) == core


def errors_of(model: type[BaseModel], body: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    return [(tuple(e["loc"]), e["msg"]) for e in refused.value.errors()]


@pytest.mark.parametrize(
    ("model", "body", "loc", "msg"),
    [
        (CreateSession, {"learning_rate": True}, ("learning_rate",), "Input should be a valid number"),
        (CreateSession, {"learning_rate": "0.5"}, ("learning_rate",), "Input should be a valid number"),
        (CreateSession, {"seed": 1.5}, ("seed",), "Input should be a valid integer"),
        (CreateSession, {"seed": "1"}, ("seed",), "Input should be a valid integer"),
        (CreateSession, {"seed": True}, ("seed",), "Input should be a valid integer"),
        (CreateSession, {"train_biases": "no"}, ("train_biases",), "Input should be a valid boolean"),
        (CreateSession, {"train_biases": 0}, ("train_biases",), "Input should be a valid boolean"),
        (CreateSession, {"layers": [2, "3", 2]}, ("layers", 1), "Input should be a valid integer"),
        (CreateSession, {"input": [0.5, False]}, ("input", 1), "Input should be a valid number"),
        (TrainRequest, {"epochs": "10"}, ("epochs",), "Input should be a valid integer"),
        (TrainRequest, {"epochs": 10.5}, ("epochs",), "Input should be a valid integer"),
        (EditSession, {"sample_index": True}, ("sample_index",), "Input should be a valid integer"),
        (CheckRequest, {"loss": 1, "value": 0.5}, ("loss",), "Input should be a valid boolean"),
        (CheckRequest, {"unit": [1, "0"], "value": 0.5}, ("unit", 1), "Input should be a valid integer"),
    ],
)
def test_no_bool_or_string_passes_for_a_number(
    model: type[BaseModel], body: dict[str, Any], loc: tuple[str | int, ...], msg: str
) -> None:
    assert errors_of(model, body) == [(loc, msg)]


def test_numbers_are_taken_as_json_writes_them() -> None:
    body = CreateSession.model_validate({"learning_rate": 1, "input": [0, 1], "target": [1, 0.5]})
    assert (body.learning_rate, body.input, body.target) == (1.0, [0.0, 1.0], [1.0, 0.5])
    assert isinstance(body.learning_rate, float)
    # A whole number may be written 10.0, as JSON Schema's integer allows (never 10.5 or "10").
    assert TrainRequest.model_validate({"epochs": 10.0}).epochs == 10
    assert CreateSession.model_validate({"layers": [2.0, 3, 1.0], "seed": 7.0}).layers == [2, 3, 1]


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (
            {"layers": ["x"] * 500_000},
            ("layers",),
            "List should have at most 6 items after validation, not 500000",
        ),
        (
            {"dataset": {"inputs": [["x"]] * 500_000, "targets": [[1.0]]}},
            ("dataset", "DatasetTable", "inputs"),
            f"List should have at most {MAX_SAMPLES} items after validation, not 500000",
        ),
        (
            {"weights": [[[0.5] * 9]]},
            ("weights", 0, 0),
            "List should have at most 8 items after validation, not 9",
        ),
        (
            {"input": ["x"] * 500_000},
            ("input",),
            "List should have at most 8 items after validation, not 500000",
        ),
    ],
)
def test_a_list_too_long_is_one_error_whatever_its_items(
    body: dict[str, Any], loc: tuple[str | int, ...], msg: str
) -> None:
    assert (loc, msg) in errors_of(CreateSession, body)
    assert len(errors_of(CreateSession, body)) <= 2  # the dataset's union also says it is no name


def test_an_unknown_field_is_named_where_it_is() -> None:
    assert errors_of(CreateSession, {"colour": "red", "seed": 1}) == [
        (("colour",), "Extra inputs are not permitted")
    ]
    assert errors_of(EditSession, {"dataset": {"inputs": [[1.0]], "targets": [[1.0]], "rows": 3}}) == [
        (
            ("dataset", "literal['xor','and','or','blobs','circle']"),
            "Input should be 'xor', 'and', 'or', 'blobs' or 'circle'",
        ),
        (("dataset", "DatasetTable", "rows"), "Extra inputs are not permitted"),
    ]


def test_a_flood_of_unknown_fields_is_one_error_naming_the_first() -> None:
    body: dict[str, Any] = {f"field{i}": i for i in range(300_000)}
    ((loc, msg),) = errors_of(TrainRequest, body)
    assert loc == ()
    assert msg == (
        "300,000 unknown fields ('field0', 'field1', 'field2', 'field3', 'field4', …); the fields are: epochs"
    )
    # Up to the error cap, each is its own error.
    assert len(errors_of(TrainRequest, {f"f{i}": i for i in range(MAX_VALIDATION_ERRORS)})) == 21


# --------------------------------------------------------------------------------------------
# Through the API
# --------------------------------------------------------------------------------------------


async def test_a_body_of_thousands_of_errors_answers_the_first_20_and_the_count(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    table = {"inputs": [["x"] * 8] * MAX_SAMPLES, "targets": [[True] * 8] * MAX_SAMPLES}
    response = await client.post("/api/sessions", json={"layers": [8, 8], "dataset": table})
    assert response.status_code == 422
    reply = response.json()
    assert reply["error_count"] == 2 * MAX_SAMPLES * 8 + 1  # every number, and "not a dataset name"
    assert len(reply["errors"]) == MAX_VALIDATION_ERRORS
    assert reply["errors"][1] == {
        "loc": ["body", "dataset", "DatasetTable", "inputs", 0, 0],
        "msg": "Input should be a valid number",
    }
    assert reply["detail"].endswith(f"; and {reply['error_count'] - 20:,} more errors")
    assert len(response.content) < 4096
    assert store.count() == 0


async def test_two_megabytes_of_wrongly_typed_items_is_one_short_error(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    body = json.dumps({"dataset": {"inputs": ["x"] * 500_000, "targets": [[1.0]]}}).encode()
    assert 2_000_000 < len(body) < MAX_API_BODY_BYTES
    response = await client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error_count"] == 2
    assert "dataset.DatasetTable.inputs: List should have at most 256 items" in response.json()["detail"]
    assert len(response.content) < 1024
    assert store.count() == 0


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/api/sessions", {"learning_rate": True}, "learning_rate: Input should be a valid number"),
        ("/api/sessions", {"train_biases": "no"}, "train_biases: Input should be a valid boolean"),
        ("/api/sessions", {"seed": 1.5}, "seed: Input should be a valid integer"),
        ("/api/sessions/{sid}/train", {"epochs": "10"}, "epochs: Input should be a valid integer"),
        ("/api/sessions/{sid}/runs", {"epochs": True}, "epochs: Input should be a valid integer"),
        ("/api/sheets", {"blanks": "3"}, "blanks: Input should be a valid integer"),
    ],
)
async def test_the_api_refuses_a_coerced_value_and_changes_nothing(
    client: httpx.AsyncClient, store: MemoryStore, path: str, body: dict[str, Any], detail: str
) -> None:
    sid = (await client.post("/api/sessions")).json()["id"]
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.post(path.format(sid=sid), json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == detail
    assert (await client.get(f"/api/sessions/{sid}")).json() == before
    assert store.count() == 1


def test_a_real_server_answers_healthz_while_hostile_bodies_arrive(tmp_path: Path) -> None:
    """Four clients send 2 MB bodies of 500,000 wrongly typed items, one after another, while
    /healthz is asked: every hostile body gets its short 422, and /healthz answers throughout
    (within a generous 30 s each: no timing is asserted, only that the server is not stalled)."""
    port = free_port()
    env = clean_environment(BACKPROP_STORE="memory", BACKPROP_PORT=str(port), PYTHONPATH=str(REPO))
    command = [sys.executable, "-c", "from app.cli import main; main()"]
    body = json.dumps({"layers": ["x"] * 500_000}).encode()
    refused: list[int] = []

    def flood(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60.0) as http:
            for _ in range(5):
                response = http.post(
                    "/api/sessions", content=body, headers={"content-type": "application/json"}
                )
                refused.append(response.status_code)

    with running(command, port, env, tmp_path, tmp_path / "server.log") as http:
        base = str(http.base_url)
        senders = [threading.Thread(target=flood, args=(base,)) for _ in range(4)]
        for sender in senders:
            sender.start()
        answered = 0
        with httpx.Client(base_url=base, timeout=30.0) as probe:
            while any(sender.is_alive() for sender in senders) or answered == 0:
                assert probe.get("/healthz").status_code == 200
                answered += 1
                time.sleep(0.01)  # pacing the probe, not waiting for anything
        for sender in senders:
            sender.join()
    assert refused == [422] * 20
    assert answered >= 1
