"""GET /api/sessions/{id}/notebook (app/notebook_api.py) through httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import nbformat
import numpy as np
import pytest

pytestmark = pytest.mark.anyio


async def new(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    sid: str = response.json()["id"]
    return sid


def run(document: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    for cell in document["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)
    return namespace


async def test_the_notebook_downloads_and_its_assertions_hold(client: httpx.AsyncClient) -> None:
    sid = await new(client, dataset="xor", layers=[2, 4, 1], mode="batch", activation="tanh")
    for _ in range(3):
        assert (await client.post(f"/api/sessions/{sid}/step")).status_code == 200
    response = await client.get(f"/api/sessions/{sid}/notebook")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ipynb+json"
    assert response.headers["content-disposition"] == 'attachment; filename="backprop-update-3.ipynb"'
    document = response.json()
    nbformat.validate(document)
    namespace = run(document)
    state = (await client.get(f"/api/sessions/{sid}")).json()
    assert namespace["W2_new"] == pytest.approx(np.array(state["weights"][1]), rel=1e-9)
    assert namespace["L"] == pytest.approx(state["recent_losses"][-1], rel=1e-9)


async def test_before_a_step_it_is_the_step_to_come_and_changes_nothing(client: httpx.AsyncClient) -> None:
    sid = await new(client)
    before = (await client.get(f"/api/sessions/{sid}")).json()
    response = await client.get(f"/api/sessions/{sid}/notebook")
    assert response.headers["content-disposition"] == 'attachment; filename="backprop-update-1.ipynb"'
    assert (await client.get(f"/api/sessions/{sid}")).json() == before
    namespace = run(response.json())
    stepped = (await client.post(f"/api/sessions/{sid}/step")).json()
    assert namespace["W1_new"] == pytest.approx(np.array(stepped["weights"][0]), rel=1e-9)


async def test_an_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sessions/nope/notebook")
    assert response.status_code == 404
    assert json.loads(response.text)["detail"] == "no session 'nope' (it may have expired or been deleted)"
