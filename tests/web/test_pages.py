"""The step-through page's own routes through httpx: cookies, fragments vs page, the no-JS flow,
data attributes, the sample form, the panel (Working and Gradients tabs), the watch."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from app import session
from app.store import MemoryStore
from app.web.deps import COOKIE
from app.web.rate_limit import NewSessions
from tests.web.page import (
    HX,
    api_state,
    elements,
    new_cookie,
    open_page,
    page_session,
    region_ids,
    use_session,
    with_attr,
)

pytestmark = pytest.mark.anyio


async def test_a_visit_stores_nothing_until_the_visitor_acts(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    client.cookies.clear()
    for _ in range(3):
        shown = await client.get("/")
        assert shown.status_code == 200 and "set-cookie" not in shown.headers
    assert store.count() == 0
    assert with_attr(shown.text, "data-session-id")[0]["data-session-id"] == ""
    assert 'id="session-json"' not in shown.text  # nothing to show yet
    assert "2-3-2 network" in shown.text  # the default network
    panel = await client.get("/page/panel?tab=gradients", headers=HX)
    watched = await client.get("/page/watch?v=x", headers=HX)
    assert panel.status_code == 200 and watched.status_code == 204 and store.count() == 0


async def test_the_first_action_keeps_the_session_and_loads_the_whole_page(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    client.cookies.clear()
    first = await client.post("/page/step", data={"tab": "gradients"}, headers=HX)
    assert first.status_code == 204 and first.headers["hx-redirect"] == "/?tab=gradients"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    sid = client.cookies[COOKIE]
    assert store.count() == 1 and store.get(sid).step == 1
    page = await client.get(first.headers["hx-redirect"])
    assert with_attr(page.text, "data-session-id")[0]["data-session-id"] == sid  # <html>
    root = next(attrs for tag, attrs in elements(page.text) if tag == "main")
    assert root["data-session-id"] == sid
    link = next(a for _, a in elements(page.text) if a.get("id") == "session-json")
    state = await client.get(link["href"] or "")
    assert state.status_code == 200 and state.json()["id"] == sid and state.json()["step"] == 1
    client.cookies.clear()  # without JavaScript: the form's redirect
    plain = await client.post("/page/forward", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/"
    assert store.get(client.cookies[COOKIE]).phase == "forward" and store.count() == 2


async def test_a_first_action_past_the_rate_limit_keeps_nothing(
    client: httpx.AsyncClient, store: MemoryStore, app: FastAPI
) -> None:
    app.state.new_sessions = NewSessions("1/minute")
    client.cookies.clear()
    assert (await client.post("/page/forward", headers=HX)).status_code == 204
    client.cookies.clear()
    refused = await client.post("/page/forward", headers=HX)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "too many new sessions from your address" in refused.text
    assert store.count() == 1 and COOKIE not in client.cookies


async def test_a_first_action_with_no_room_in_the_store_keeps_nothing(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    for k in range(store.max_sessions):
        store.add(session.create(f"busy-{k}"))  # every one just used
    client.cookies.clear()
    refused = await client.post("/page/step", data={"mode": "batch"})
    assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 3500
    assert "all of them are in use" in refused.text and "<html" in refused.text
    assert store.count() == store.max_sessions and COOKIE not in client.cookies


async def test_reload_keeps_the_session(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    again = await client.get("/")
    assert "set-cookie" not in again.headers
    assert f'data-session-id="{sid}"' in again.text


async def test_an_id_the_server_did_not_issue_is_never_accepted(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    client.cookies.clear()
    chosen = {"Cookie": f"{COOKIE}=chosen-by-the-client"}
    response = await client.get("/", headers=chosen)
    assert re.match(rf'{COOKIE}=""; .*Max-Age=0', response.headers["set-cookie"])  # forgotten
    assert 'data-session-id=""' in response.text
    first = await client.post("/page/forward", headers={**HX, **chosen})
    issued = new_cookie(first)
    assert issued != "chosen-by-the-client" and store.get(issued).phase == "forward"
    with pytest.raises(LookupError):
        store.get("chosen-by-the-client")


async def test_htmx_request_gets_fragments_and_plain_request_a_redirect(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    fragment = await client.post("/page/forward", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<head" not in fragment.text
    tags = elements(fragment.text)
    roots = [
        (tag, attrs) for tag, attrs in tags if attrs.get("id") in {"diagram", "status", "controls", "panel"}
    ]
    assert [attrs["id"] for _, attrs in roots] == ["diagram", "status", "controls", "panel"]
    assert "hx-swap-oob" not in roots[0][1]  # the diagram is the request's own target
    assert all(attrs.get("hx-swap-oob") == "true" for _, attrs in roots[1:])
    assert "HX-Request" in fragment.headers["vary"]

    plain = await client.post("/page/backward", follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == "/"
    assert (await api_state(client, sid))["phase"] == "backward"

    page = await client.get("/")
    assert "<html" in page.text and 'id="diagram"' in page.text
    assert "HX-Request" in page.headers["vary"]


async def test_every_step_works_without_javascript(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    for action, phase in [
        ("forward", "forward"),
        ("backward", "backward"),
        ("update", "updated"),
        ("step", "updated"),
        ("substep", "forwarding"),
        ("undo", "updated"),
    ]:
        response = await client.post(f"/page/{action}", follow_redirects=True)
        assert response.status_code == 200, action
        assert response.url.path == "/"
        assert (await api_state(client, sid))["phase"] == phase, action
    # Reset asks first: the page with the question, then the same form with confirmed=1.
    asked = await client.post("/page/reset", data={"tab": "work"})
    assert asked.status_code == 200 and "Reset to the start?" in asked.text
    assert (await api_state(client, sid))["step"] == 1  # nothing changed yet
    done = await client.post("/page/reset", data={"tab": "work", "confirmed": "1"}, follow_redirects=True)
    assert done.status_code == 200 and done.url.path == "/"
    state = await api_state(client, sid)
    assert (state["phase"], state["step"]) == ("idle", 0)


async def test_reset_asks_first_in_the_controls(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    await client.post("/page/step", headers=HX)
    asked = await client.post("/page/reset", data={"tab": "work"}, headers={**HX, "HX-Target": "controls"})
    assert asked.status_code == 200
    assert region_ids(asked.text) == [("controls", False)]  # only the controls: nothing else changed
    assert 'role="alertdialog"' in asked.text and "its 1 update and their history are cleared" in asked.text
    assert re.search(r'<button type="submit" id="reset-button" name="confirmed" value="1"', asked.text)
    assert (await api_state(client, sid))["step"] == 1
    done = await client.post(
        "/page/reset", data={"tab": "work", "confirmed": "1"}, headers={**HX, "HX-Target": "diagram"}
    )
    assert done.status_code == 200 and "Reset to the start?" not in done.text
    assert (await api_state(client, sid))["step"] == 0
    assert 'id="reset-button"' in done.text  # the focus goes back to Reset


def node_attrs(html: str) -> dict[tuple[int, int], dict[str, str | None]]:
    return {(int(a["data-layer"] or 0), int(a["data-unit"] or 0)): a for a in with_attr(html, "data-node")}


def edge_attrs(html: str) -> dict[tuple[int, int, int], dict[str, str | None]]:
    return {
        (int(a["data-layer"] or 0), int(a["data-from"] or 0), int(a["data-to"] or 0)): a
        for a in with_attr(html, "data-edge")
    }


async def test_data_attributes_equal_the_api_after_each_phase(client: httpx.AsyncClient) -> None:
    sid, page = await open_page(client)
    state = await api_state(client, sid)
    nodes, edges = node_attrs(page), edge_attrs(page)
    assert len(nodes) == 7 and len(edges) == 12
    assert all("data-activation" not in a and "data-delta" not in a for a in nodes.values())
    for (l, i, j), attrs in edges.items():
        assert float(attrs["data-weight"] or "nan") == state["weights"][l][i][j]
        assert "data-gradient" not in attrs

    for action in ("forward", "backward", "update"):
        await client.post(f"/page/{action}", headers=HX)
        page = (await client.get("/")).text
        state = await api_state(client, sid)
        nodes, edges = node_attrs(page), edge_attrs(page)
        for (l, j), attrs in nodes.items():
            assert float(attrs["data-activation"] or "nan") == state["forward"]["activations"][l][j]
            if l > 0:
                assert (
                    float(attrs["data-pre-activation"] or "nan")
                    == state["forward"]["pre_activations"][l - 1][j]
                )
            if state["backward"] is not None and l > 0:
                assert float(attrs["data-delta"] or "nan") == state["backward"]["deltas"][l - 1][j]
            else:
                assert "data-delta" not in attrs
        for (l, i, j), attrs in edges.items():
            assert float(attrs["data-weight"] or "nan") == state["weights"][l][i][j]
            if state["backward"] is not None:
                assert (
                    float(attrs["data-gradient"] or "nan") == state["backward"]["weight_gradients"][l][i][j]
                )
            if action == "update":
                assert float(attrs["data-old-weight"] or "nan") == state["previous"]["weights"][l][i][j]


async def test_labels_use_the_articles_notation(client: httpx.AsyncClient) -> None:
    _, page = await open_page(client)
    text = re.sub(r"<[^>]+>", "", page)
    for name in ("x1", "x2", "h1", "h2", "h3", "y1", "y2", "t1", "t2", "w11", "w23", "u11", "u32"):
        assert name in text, name
    await client.post("/page/forward", headers=HX)
    await client.post("/page/backward", headers=HX)
    page = (await client.get("/")).text
    assert "δ " in page and "∂ " in page
    await client.post("/page/update", headers=HX)
    page = (await client.get("/")).text
    assert "→ " in page


@pytest.mark.parametrize(
    ("setup", "enabled"),
    [
        ([], {"Forward", "Step", "Sub-step", "Reset"}),
        (["forward"], {"Forward", "Backward", "Step", "Sub-step", "Reset"}),
        (["forward", "backward"], {"Forward", "Update", "Step", "Sub-step", "Reset"}),
        (["step"], {"Forward", "Step", "Sub-step", "Reset", "Undo"}),
    ],
)
async def test_buttons_not_allowed_now_are_marked_so_and_stay_focusable(
    client: httpx.AsyncClient, setup: list[str], enabled: set[str]
) -> None:
    await open_page(client)
    for action in setup:
        await client.post(f"/page/{action}", headers=HX)
    page = (await client.get("/")).text
    controls = page[page.index('id="controls"') : page.index("</form>", page.index('id="controls"'))]
    buttons = re.findall(r"<button([^>]*)>([^<]+)</button>", controls)
    seen = {label.strip(): 'aria-disabled="true"' not in attrs for attrs, label in buttons}
    assert {label for label, on in seen.items() if on} == enabled
    assert {"Forward", "Backward", "Update", "Step", "Sub-step", "Reset", "Undo"} <= seen.keys()
    # Focusable all the same (never the disabled attribute), each with an id to keep the focus by.
    assert not any(re.search(r"\sdisabled(?=[\s>=])", attrs) for attrs, _ in buttons)
    ids = [re.search(r'\sid="([a-z-]+)"', attrs) for attrs, _ in buttons]
    assert all(ids) and len({m.group(1) for m in ids if m}) == len(ids)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"x1": "abc"}, "x1", "x1: “abc” is not a number"),
        ({"t2": ""}, "t2", "t2: enter a number"),
        ({"x2": "nan"}, "x2", "x2: must be a finite number"),
        ({"x1": "inf"}, "x1", "x1: must be a finite number"),
        ({"t1": "2e6"}, "t1", "t1: must lie in [-1e+06, 1e+06]"),
        ({"eta": "0"}, "eta", "η (learning rate): must lie in (0, 100]"),
        ({"eta": "101"}, "eta", "η (learning rate): must lie in (0, 100]"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
async def test_invalid_form_input_is_shown_next_to_the_field_and_changes_nothing(
    client: httpx.AsyncClient, form: dict[str, str], field: str, message: str, htmx: bool
) -> None:
    sid, _ = await open_page(client)
    await client.post("/page/forward", headers=HX)
    before = await api_state(client, sid)
    data = {"x1": "0.05", "x2": "0.1", "t1": "0.01", "t2": "0.99", "eta": "0.5", **form}
    response = await client.post("/page/sample", data=data, headers=HX if htmx else {})
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert (await api_state(client, sid)) == before
    if htmx:
        assert response.text.lstrip().startswith('<form id="sample"')
    else:
        assert "<html" in response.text


async def test_valid_form_input_changes_the_sample_and_learning_rate(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    await client.post("/page/forward", headers=HX)
    data = {"x1": "1", "x2": "−0.5", "t1": "0", "t2": "1", "eta": "0.25"}
    response = await client.post("/page/sample", data=data, headers=HX)
    assert response.status_code == 200
    state = await api_state(client, sid)
    assert state["input"] == [1.0, -0.5]
    assert state["target"] == [0.0, 1.0]
    assert state["learning_rate"] == 0.25
    assert state["phase"] == "idle"
    plain = await client.post("/page/sample", data={**data, "eta": "0.3"}, follow_redirects=False)
    assert plain.status_code == 303
    assert (await api_state(client, sid))["learning_rate"] == 0.3


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_foreign_origin_is_refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    sid, _ = await open_page(client)
    before = await api_state(client, sid)
    for path in ("/page/forward", "/page/reset", "/page/sample"):
        response = await client.post(path, headers=headers, data={"x1": "1"})
        assert response.status_code == 403, path
        assert "refused" in response.json()["detail"]
    assert (await api_state(client, sid)) == before
    same = await client.post("/page/forward", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303


async def test_page_is_secure_and_self_contained(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
    assert not re.search(r"\sstyle\s*=", page), "inline style attribute (blocked by the CSP)"
    for _, attrs in elements(page):
        for key in ("src", "href", "action", "hx-get", "hx-post", "formaction"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("/", "#")), (key, value)
    for asset in ("/static/app.css", "/static/app.js", "/vendor/htmx/htmx.min.js", "/static/favicon.svg"):
        assert (await client.get(asset)).status_code == 200, asset


async def test_markup_from_the_session_is_escaped(client: httpx.AsyncClient) -> None:
    await open_page(client)
    response = await client.post("/page/sample", data={"x1": "<script>alert(1)</script>"}, headers=HX)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


async def test_watch_answers_204_until_the_api_changes_the_session(client: httpx.AsyncClient) -> None:
    sid, page = await open_page(client)
    token = re.search(r"/page/watch\?v=([0-9a-f]+)", page)
    assert token is not None
    unchanged = await client.get(f"/page/watch?v={token.group(1)}", headers=HX)
    assert unchanged.status_code == 204
    await client.post(f"/api/sessions/{sid}/forward")
    changed = await client.get(f"/page/watch?v={token.group(1)}", headers=HX)
    assert changed.status_code == 200
    nodes = node_attrs(changed.text)
    state = await api_state(client, sid)
    assert float(nodes[(2, 0)]["data-activation"] or "nan") == state["forward"]["activations"][2][0]
    # the watch swaps nothing itself, so every region must come out of band, the status (with
    # the new fingerprint) included
    roots = [
        a for _, a in elements(changed.text) if a.get("id") in {"status", "diagram", "controls", "panel"}
    ]
    assert [a["id"] for a in roots] == ["status", "diagram", "controls", "panel"]
    assert all(a.get("hx-swap-oob") == "true" for a in roots)
    new_token = re.search(r"/page/watch\?v=([0-9a-f]+)", changed.text)
    assert new_token is not None and new_token.group(1) != token.group(1)
    again = await client.get(f"/page/watch?v={new_token.group(1)}", headers=HX)
    assert again.status_code == 204


async def test_a_lost_session_starts_again_from_the_default_network(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    assert (await client.delete(f"/api/sessions/{sid}")).status_code == 204
    watched = await client.get("/page/watch?v=x", headers=HX)  # the page left open finds out
    assert watched.status_code == 204 and watched.headers["hx-redirect"] == "/"
    shown = await client.get("/")
    assert 'data-session-id=""' in shown.text and COOKIE not in client.cookies
    htmx = await client.post("/page/forward", headers=HX)
    assert htmx.status_code == 204 and htmx.headers["hx-redirect"] == "/"
    assert client.cookies[COOKIE] != sid
    again = await client.get("/")
    assert f'data-session-id="{client.cookies[COOKIE]}"' in again.text


async def test_unknown_action_is_404(client: httpx.AsyncClient) -> None:
    await open_page(client)
    assert (await client.post("/page/explode")).status_code == 404


async def test_an_oversized_form_is_refused(client: httpx.AsyncClient) -> None:
    sid, _ = await open_page(client)
    before = await api_state(client, sid)
    response = await client.post("/page/forward", data={"tab": "x" * 300_000})
    assert response.status_code == 413
    assert "larger than 256 KB" in response.json()["detail"]
    assert await api_state(client, sid) == before


async def test_big_answers_are_gzipped(client: httpx.AsyncClient) -> None:
    await open_page(client)
    response = await client.post("/page/forward", headers={**HX, "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert 'id="diagram"' in response.text  # httpx decompresses


async def test_selecting_a_hidden_weight_shows_its_working(client: httpx.AsyncClient) -> None:
    sid = await page_session(client)
    await client.post("/page/forward", headers=HX)
    await client.post("/page/backward", headers=HX)
    response = await client.get("/page/panel?tab=work&select=weight:0,0,0", headers=HX)
    assert response.status_code == 200
    ids = re.findall(r'<(?:section|figure|form) id="(\w+)"', response.text)
    assert ids == ["panel", "diagram", "controls"]
    api = (await client.get(f"/api/sessions/{sid}/explain?weight=0,0,0")).json()
    assert f'data-result="{api["result"]!r}"' in response.text
    assert "<math" in response.text and "Gradient of hidden weight w11" in response.text
    assert 'class="edge positive has-gradient selected"' in response.text  # w11 = 0.1937
    # the controls carry the view, so the next step keeps the panel on the same quantity
    assert '<input type="hidden" name="select" value="weight:0,0,0">' in response.text
    step = await client.post("/page/update", data={"tab": "work", "select": "weight:0,0,0"}, headers=HX)
    assert "New value of hidden weight w11 (after update)" in step.text
    assert 'class="edge positive has-gradient selected"' in step.text


async def test_check_my_answer_in_the_page(client: httpx.AsyncClient) -> None:
    sid = await page_session(client)
    await client.post("/page/forward", headers=HX)
    expected = (await client.get(f"/api/sessions/{sid}/explain?unit=2,0")).json()["result"]
    right = await client.get(f"/page/panel?tab=work&select=unit:2,0&answer={expected:.4g}", headers=HX)
    assert 'data-correct="true"' in right.text
    wrong = await client.get(f"/page/panel?tab=work&select=unit:2,0&answer={expected * 1.5}", headers=HX)
    assert 'data-correct="false"' in wrong.text
    plain = await client.get(f"/?tab=work&select=unit:2,0&answer={expected:.4g}")
    assert 'data-correct="true"' in plain.text  # the same check works as a plain GET without JavaScript
    comma = f"{expected:.4g}".replace(".", ",")
    assert 'data-correct="true"' in (await client.get(f"/?tab=work&select=unit:2,0&answer={comma}")).text
    assert "4 significant digits" in plain.text


async def test_quiz_mode_hides_the_numbers_until_answered(client: httpx.AsyncClient) -> None:
    await page_session(client)
    await client.post("/page/forward", headers=HX)
    hidden = await client.get("/page/panel?tab=work&select=unit:1,0&quiz=1", headers=HX)
    body = hidden.text[: hidden.text.index('id="diagram"')]
    assert "<math" not in body and "quiz-lines" in body
    answered = await client.get("/page/panel?tab=work&select=unit:1,0&quiz=1&answer=0.5", headers=HX)
    body = answered.text[: answered.text.index('id="diagram"')]
    assert "<math" in body and "data-correct=" in body


async def test_gradient_check_tab_lists_every_parameter(client: httpx.AsyncClient) -> None:
    sid = await page_session(client)
    response = await client.get("/page/panel?tab=gradients", headers=HX)
    rows = re.findall(
        r'data-parameter="([^"]+)" data-backprop="([^"]+)" data-numerical="([^"]+)"', response.text
    )
    api = (await client.get(f"/api/sessions/{sid}/gradient-check")).json()
    assert [name for name, _, _ in rows] == [row["name"] for row in api["rows"]]
    assert len(rows) == 17  # 6 + 6 weights, 3 + 2 biases
    for _, backprop, numerical in rows:
        assert abs(float(backprop) - float(numerical)) < 1e-8


async def test_panel_without_javascript_redirects_to_the_page(client: httpx.AsyncClient) -> None:
    await page_session(client)
    response = await client.get("/page/panel?tab=gradients", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?tab=gradients"


async def test_substep_opens_its_derivation_in_the_page(client: httpx.AsyncClient) -> None:
    await page_session(client)
    first = await client.post("/page/substep", headers=HX)
    assert "Activation of hidden unit h1 (during the forward pass)" in first.text
    assert 'class="node layer-1 highlight selected"' in first.text
    plain = await client.post("/page/substep", follow_redirects=False)
    assert plain.headers["location"] == "/?tab=work&select=unit%3A2%2C0"


def region_roots(fragment: str) -> list[tuple[str, bool]]:
    """The page regions an answer carries, in order: (id, swapped out of band)."""
    regions = {"diagram", "status", "controls", "sample", "panel"}
    return [
        (str(attrs["id"]), attrs.get("hx-swap-oob") == "true")
        for _, attrs in elements(fragment)
        if attrs.get("id") in regions
    ]


async def test_a_refused_step_redraws_its_target_and_says_why_in_the_status(
    client: httpx.AsyncClient,
) -> None:
    sid, _ = await open_page(client)
    before = await api_state(client, sid)
    response = await client.post("/page/update", headers=HX)
    assert response.status_code == 409
    # the controls' target (the diagram) in place, unchanged; the reason in the status
    assert region_roots(response.text) == [("diagram", False), ("status", True)]
    assert "update needs the gradients: run forward, then backward, first" in response.text
    assert await api_state(client, sid) == before


async def test_a_diverging_step_is_409_as_in_the_api(client: httpx.AsyncClient, store: MemoryStore) -> None:
    # a linear 1-1 network: the gradient of w is (y − t)·x = 1e6·1e3, so η = 100 moves w by 1e11
    sid = use_session(
        client,
        store,
        layers=[1, 1],
        activation="linear",
        output_activation="linear",
        learning_rate=100.0,
        weights=[[[1000.0]]],
        biases=[[0.0]],
        input=[1000.0],
        target=[0.0],
    )
    await client.post("/page/forward", headers=HX)
    await client.post("/page/backward", headers=HX)
    before = await api_state(client, sid)
    response = await client.post("/page/update", headers=HX)
    assert response.status_code == 409
    assert "diverged" in response.text
    assert await api_state(client, sid) == before


async def test_the_answer_starts_with_the_region_htmx_targets(client: httpx.AsyncClient) -> None:
    await open_page(client)
    response = await client.post("/page/step", headers={**HX, "HX-Target": "panel"})
    assert region_roots(response.text) == [
        ("panel", False),
        ("diagram", True),
        ("status", True),
        ("controls", True),
        ("sample", True),
    ]


def drawings(html: str) -> list[str]:
    """The figure's drawings in an answer: "landscape", "portrait" or "matrix"."""
    return re.findall(r'<svg class="drawing (landscape|portrait|matrix)', html)


async def test_an_htmx_answer_carries_the_drawing_its_screen_shows(client: httpx.AsyncClient) -> None:
    await page_session(client)
    page = await client.get("/")
    assert drawings(page.text) == ["landscape", "portrait"]  # a whole page: CSS picks one
    phone = await client.post("/page/forward", headers={**HX, "BPV-Orientation": "portrait"})
    assert drawings(phone.text) == ["portrait"]
    # the one drawing carries the data attributes (and the ids) the page's tests and scripts use
    assert len(with_attr(phone.text, "data-node")) == 7 and 'id="diagram-title"' in phone.text
    wide = await client.post("/page/backward", headers={**HX, "BPV-Orientation": "landscape"})
    assert drawings(wide.text) == ["landscape"]
    unsaid = await client.post("/page/update", headers={**HX, "BPV-Orientation": "sideways"})
    assert drawings(unsaid.text) == ["landscape", "portrait"]
    # a plain request is a redirect to the whole page, whatever it says
    plain = await client.post("/page/forward", headers={"BPV-Orientation": "portrait"})
    assert plain.status_code == 303


async def test_presentation_mode_and_the_theme_are_in_the_url(client: httpx.AsyncClient) -> None:
    await page_session(client)
    page = await client.get("/?present=1&theme=dark")
    assert '<body class="present">' in page.text
    html = next(attrs for tag, attrs in elements(page.text) if tag == "html")
    assert html["class"] == "theme-dark"
    # every step carries them along, so an htmx answer keeps its links and fields in the mode
    assert '<input type="hidden" name="present" value="1">' in page.text
    assert '<input type="hidden" name="theme" value="dark">' in page.text
    toggle = next(attrs for tag, attrs in elements(page.text) if attrs.get("id") == "present-toggle")
    assert toggle["href"] == "/?tab=work&theme=dark"
    step = await client.post(
        "/page/forward", data={"tab": "work", "present": "1", "theme": "dark"}, headers=HX
    )
    assert 'href="/?tab=work&amp;theme=dark"' in step.text and 'name="present" value="1"' in step.text
    plain = await client.post("/page/forward", data={"tab": "work", "present": "1"})
    assert plain.headers["location"] == "/?tab=work&present=1"
    normal = await client.get("/")
    assert "<body>" in normal.text and 'class="theme-' not in normal.text


async def test_the_figure_as_a_matrix_or_a_table(client: httpx.AsyncClient) -> None:
    await page_session(client)
    await client.post("/page/forward", headers=HX)
    matrix = await client.get("/page/panel?tab=work&show=matrix&layer=1", headers=HX)
    assert drawings(matrix.text) == ["matrix"]
    assert len(with_attr(matrix.text, "data-cell")) == 6  # u: 3×2
    assert all(a["data-layer"] == "1" for a in with_attr(matrix.text, "data-cell"))
    # the thumbnails pick a layer, through the panel's route (htmx) or the page's URL (no JS)
    assert 'href="/?tab=work&amp;show=matrix&amp;layer=0"' in matrix.text
    table = await client.get("/page/panel?tab=work&show=table", headers=HX)
    assert drawings(table.text) == [] and 'class="numbers weights"' in table.text
    assert len(re.findall(r'<tr data-row="weight:', table.text)) == 12
    # without JavaScript the same views are whole pages
    page = await client.get("/?show=matrix&layer=0")
    assert drawings(page.text) == ["matrix"] and len(with_attr(page.text, "data-cell")) == 6
    odd = await client.get("/?show=chart&layer=9")
    assert drawings(odd.text) == ["landscape", "portrait"]


async def test_a_big_network_gets_the_matrix_and_can_ask_for_the_diagram(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    use_session(client, store, layers=[2, 4, 4, 1], target=[0.5])
    page = await client.get("/")
    assert drawings(page.text) == ["matrix"]
    assert "Too many numbers for the edges" in page.text
    diagram = await client.get("/?show=diagram")
    assert drawings(diagram.text) == ["landscape", "portrait"]
    assert "data-label-for" not in diagram.text  # no room for the numbers on its 28 edges


async def test_mazurs_network_can_carry_the_posts_names(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    use_session(
        client, store, layers=[2, 2, 2], weights=[[[0.15, 0.25], [0.2, 0.3]], [[0.4, 0.5], [0.45, 0.55]]]
    )
    page = await client.get("/")
    assert "Post's names w1…w8" in page.text
    named = await client.get("/page/panel?tab=work&names=post", headers=HX)
    assert 'aria-label="w5 = 0.4: show the working"' in named.text
    assert "w5 = 0.4 (u11 in the article&#39;s names)" in named.text
    other = await client.get("/?names=post")
    assert 'aria-label="w5 = 0.4: show the working"' in other.text
    use_session(client, store)
    assert "Post's names" not in (await client.get("/")).text
