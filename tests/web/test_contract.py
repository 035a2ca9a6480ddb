"""The API's contract: short stable operationIds, a tag each, a model for every answer, enums as
enums, the statuses each operation can answer, links between operations; then schemathesis holds
the server to all of it, in process (its ASGI transport), every operation, every check, every phase
(examples, coverage, fuzzing, and the stateful phase along the links), with no failure allowed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import BaseModel
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.web import documents, replies, schemas, sheets_api
from app.web.contract import ON_A_SESSION, TAGS
from app.web.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

pytestmark = pytest.mark.anyio

#: Every operation of the API, by operationId: the method a generated client gets.
OPERATIONS = {
    ("POST", "/api/sessions"): ("create_session", "sessions"),
    ("GET", "/api/sessions/{session_id}"): ("get_session", "sessions"),
    ("PATCH", "/api/sessions/{session_id}"): ("edit_session", "sessions"),
    ("DELETE", "/api/sessions/{session_id}"): ("delete_session", "sessions"),
    ("GET", "/api/sessions/{session_id}/export"): ("export_session", "sessions"),
    ("POST", "/api/sessions/import"): ("import_session", "sessions"),
    ("GET", "/api/sessions/{session_id}/share"): ("get_share_link", "sessions"),
    ("POST", "/api/sessions/{session_id}/forward"): ("forward", "steps"),
    ("POST", "/api/sessions/{session_id}/backward"): ("backward", "steps"),
    ("POST", "/api/sessions/{session_id}/update"): ("update", "steps"),
    ("POST", "/api/sessions/{session_id}/step"): ("step", "steps"),
    ("POST", "/api/sessions/{session_id}/substep"): ("substep", "steps"),
    ("POST", "/api/sessions/{session_id}/train"): ("train", "steps"),
    ("POST", "/api/sessions/{session_id}/reset"): ("reset", "history"),
    ("POST", "/api/sessions/{session_id}/undo"): ("undo", "history"),
    ("GET", "/api/sessions/{session_id}/history"): ("list_history", "history"),
    ("POST", "/api/sessions/{session_id}/history/{step}/restore"): ("restore", "history"),
    ("GET", "/api/sessions/{session_id}/losses"): ("list_losses", "history"),
    ("GET", "/api/sessions/{session_id}/explain"): ("explain", "working"),
    ("POST", "/api/sessions/{session_id}/check"): ("check_answer", "working"),
    ("GET", "/api/sessions/{session_id}/gradient-check"): ("gradient_check", "working"),
    ("GET", "/api/sessions/{session_id}/notebook"): ("get_notebook", "working"),
    ("POST", "/api/sessions/{session_id}/runs"): ("start_run", "runs"),
    ("GET", "/api/sessions/{session_id}/runs"): ("get_run", "runs"),
    ("DELETE", "/api/sessions/{session_id}/runs"): ("cancel_run", "runs"),
    ("POST", "/api/sheets"): ("create_sheet", "sheets"),
    ("GET", "/api/sheets/{code}"): ("get_sheet", "sheets"),
    ("POST", "/api/sheets/{code}/grade"): ("grade_sheet", "sheets"),
    ("GET", "/api/sheets/{code}/key"): ("get_sheet_key", "sheets"),
    ("GET", "/api/presets"): ("list_presets", "presets"),
    ("GET", "/healthz"): ("healthz", "meta"),
    ("GET", "/readyz"): ("readyz", "meta"),
}
#: The POSTs that take an Idempotency-Key.
IDEMPOTENT = {
    "create_session",
    "import_session",
    "forward",
    "backward",
    "update",
    "step",
    "substep",
    "train",
    "reset",
    "undo",
    "restore",
    "start_run",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(
        Settings(store="memory"), store=MemoryStore(ttl=60.0, max_sessions=10)
    ).openapi()
    return schema


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_operation_has_its_short_id_and_one_tag(spec: dict[str, Any]) -> None:
    found = {(method, path): (op["operationId"], *op["tags"]) for method, path, op in operations(spec)}
    assert found == OPERATIONS
    assert [tag["name"] for tag in spec["tags"]] == [tag["name"] for tag in TAGS]
    assert {tag for _, tag in OPERATIONS.values()} == {tag["name"] for tag in TAGS}


def test_every_answer_has_a_model_and_every_refusal_its_reason(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        for status, answer in op["responses"].items():
            assert answer["description"], (method, path, status)
            if status == "204":
                assert "content" not in answer
                continue
            ((media, content),) = answer["content"].items()
            assert content["schema"], (method, path, status)
            if path == "/readyz":  # a probe's answer, ready or not
                assert content["schema"] == {"$ref": "#/components/schemas/Readiness"}
            elif status.startswith(("4", "5")):
                assert media == "application/json", (method, path, status)
                name = "ValidationErrorBody" if status == "422" else "ErrorBody"
                assert content["schema"] == {"$ref": f"#/components/schemas/{name}"}, (method, path, status)
                if status in ("429", "503"):
                    assert "Retry-After" in answer["headers"]


def test_writes_document_the_refusals_they_can_meet(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        statuses = set(op["responses"])
        if path.startswith("/api/") and method in ("POST", "PATCH", "DELETE"):
            assert {"403", "422", "503"} <= statuses, (method, path)
        if "{session_id}" in path:
            assert {"404", "503"} <= statuses, (method, path)
        if "requestBody" in op:
            assert "413" in statuses, (method, path)
        if op["operationId"] in IDEMPOTENT:
            assert "409" in statuses, (method, path)
    assert "429" in spec["paths"]["/api/sessions"]["post"]["responses"]
    assert "415" in spec["paths"]["/api/sessions/import"]["post"]["responses"]


def test_the_idempotency_key_is_a_documented_header_of_the_writes_that_take_it(spec: dict[str, Any]) -> None:
    taking = set()
    for _, _, op in operations(spec):
        for parameter in op.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["in"] == "header" and not parameter["required"]
                assert parameter["schema"]["anyOf"][0]["maxLength"] == 128
                taking.add(op["operationId"])
    assert taking == IDEMPOTENT


def test_names_are_enums_in_answers(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    state = schemas["SessionState"]["properties"]
    assert state["phase"] == {"$ref": "#/components/schemas/Phase"}
    assert state["activation"]["$ref"] == "#/components/schemas/Activation"
    assert state["loss"]["$ref"] == "#/components/schemas/LossFunction"
    assert state["mode"] == {"$ref": "#/components/schemas/Mode"}
    assert schemas["RunState"]["properties"]["state"] == {"$ref": "#/components/schemas/RunStateName"}
    assert schemas["Phase"]["enum"] == ["idle", "forwarding", "forward", "backwarding", "backward", "updated"]


def test_export_import_and_the_notebook_are_typed(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    document = {"$ref": "#/components/schemas/SessionDocument"}
    assert paths["/api/sessions/{session_id}/export"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": document}
    }
    assert paths["/api/sessions/import"]["post"]["requestBody"]["content"] == {
        "application/json": {"schema": document}
    }
    assert paths["/api/sessions/{session_id}/notebook"]["get"]["responses"]["200"]["content"] == {
        "application/x-ipynb+json": {"schema": {"$ref": "#/components/schemas/Notebook"}}
    }


def test_a_new_session_links_to_every_operation_on_it(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/api/sessions"]["post"]["responses"]["201"]["links"]
    assert set(created) == set(ON_A_SESSION)
    assert created["forward"] == {
        "operationId": "forward",
        "parameters": {"session_id": "$response.body#/id"},
    }
    started = spec["paths"]["/api/sessions/{session_id}/runs"]["post"]["responses"]["202"]["links"]
    assert started["get_run"]["parameters"] == {"session_id": "$request.path.session_id"}


def test_every_example_is_a_true_instance_of_its_model(spec: dict[str, Any]) -> None:
    models = {
        name: value
        for module in (schemas, replies, documents, sheets_api)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseModel)
    }
    shown = [name for name, schema in spec["components"]["schemas"].items() if "examples" in schema]
    assert {"SessionState", "RunState", "ExplainResponse", "ErrorBody", "SessionDocument"} <= set(shown)
    for name in shown:
        for example in spec["components"]["schemas"][name]["examples"]:
            models[name].model_validate(example)


async def test_every_documented_example_is_accepted(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for name in ("CreateSession", "EditSession", "TrainRequest"):
        for example in schemas[name]["examples"]:
            sid = (await client.post("/api/sessions")).json()["id"]
            path = {
                "CreateSession": "/api/sessions",
                "EditSession": f"/api/sessions/{sid}",
                "TrainRequest": f"/api/sessions/{sid}/train",
            }[name]
            method = "PATCH" if name == "EditSession" else "POST"
            response = await client.request(method, path, json=example)
            assert response.status_code < 300, (name, example, response.text)
    sid = (await client.post("/api/sessions")).json()["id"]
    exported = (await client.get(f"/api/sessions/{sid}/export")).json()
    example = schemas["SessionDocument"]["examples"][0]
    assert set(example) <= set(exported)
    assert (await client.post("/api/sessions/import", json=example)).status_code == 201


# --------------------------------------------------------------------------------------------
# Schemathesis
# --------------------------------------------------------------------------------------------

#: Fixed, so that a failure found is found again (change it to explore other cases).
SEED = 20261112
#: A well-formed Idempotency-Key.
KEY = re.compile(KEY_PATTERN)
#: Epochs a generated train or run is cut to: the contract is the same for 20 epochs as for 100,000,
#: and 100,000 would make every such case take seconds.
EPOCHS_TRIED = 20

CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": 30},
    "checks": {
        # Valid by the schema yet refused with a 422 saying why: what JSON Schema cannot say, as a
        # sample's width that must fit the session's network, the one quantity /explain and /check
        # name, or an Idempotency-Key reused with another body.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
        },
    },
    # The stateful phase follows the links the API documents (a run is read after it is started,
    # not before: GET .../runs of a session that never ran one is a 404 by design).
    "phases": {"stateful": {"inference": {"algorithms": []}}},
}


def describe(failure: Any) -> str:
    return f"{failure.operation}: {failure.title}: {failure.message}"


def failures_of(event: events.EngineEvent) -> list[str]:
    """Every failure an engine event reports, in words."""
    found: list[str] = []
    if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        for checks in event.recorder.checks.values():
            found += [describe(c.failure_info.failure) for c in checks if c.failure_info is not None]
    elif isinstance(event, events.NonFatalError):
        found.append(f"{event.label}: error: {event.info.format()}")
    elif isinstance(event, events.FatalError):
        found.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.EngineFinished):
        found += [describe(failure) for failure in event.failures]
    return found


@pytest.fixture
def tested_app() -> Iterator[FastAPI]:
    app = create_app(Settings(store="memory"), store=MemoryStore(ttl=3600.0, max_sessions=100_000))
    yield app
    app.state.runs.shutdown()  # schemathesis keeps the app's lifespan open; stop its runs here


def test_schemathesis_finds_nothing(tested_app: FastAPI) -> None:
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        body = case.body
        if case.path.endswith(("/train", "/runs")) and isinstance(body, dict):
            epochs = body.get("epochs")
            if isinstance(epochs, int) and not isinstance(epochs, bool) and 1 <= epochs <= 100_000:
                body["epochs"] = min(epochs, EPOCHS_TRIED)  # still valid; still as invalid as it was
        key = (case.headers or {}).get("Idempotency-Key")
        if isinstance(key, str) and KEY.fullmatch(key):
            # A well-formed key made unique to the call: the generator draws the same few keys again
            # and again, and a replayed create names a session that a later scenario may have
            # deleted (the first answer, as promised, but not the fresh resource a checker expects).
            case.headers["Idempotency-Key"] = f"{key[: MAX_KEY_LENGTH - 33]}-{uuid.uuid4().hex}"

    schemathesis.hook(before_call)
    try:
        config = SchemathesisConfig.from_dict(CONFIG)
        schema = schemathesis.openapi.from_asgi("/openapi.json", tested_app, config=config)
        found: list[str] = []
        stop_reason = None
        for event in from_schema(schema).execute():
            found += failures_of(event)
            if isinstance(event, events.EngineFinished):
                stop_reason = event.stop_reason
    finally:
        schemathesis.hooks.unregister(before_call)
    assert found == []
    assert stop_reason is not None and stop_reason.value == "completed"
