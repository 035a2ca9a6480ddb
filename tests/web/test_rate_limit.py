"""Who is asking (the client's address, through trusted proxies only) and the limit on new sessions
per address: in process memory, in Redis shared by several processes, and on the routes that make
sessions."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from app.errors import TooManyRequestsError
from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore
from app.train_pool import TrainingPool
from app.web.rate_limit import NewSessions, client_address, forwarded_chain

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


def request_from(peer: str, *headers: tuple[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "client": (peer, 5000)})


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        # No proxy trusted: the peer, whatever it says others said.
        ("203.0.113.9", [("X-Forwarded-For", "198.51.100.1")], "203.0.113.9"),
        ("203.0.113.9", [("Forwarded", "for=198.51.100.1")], "203.0.113.9"),
        # A trusted proxy names the client.
        ("10.0.0.2", [("X-Forwarded-For", "198.51.100.1")], "198.51.100.1"),
        ("10.0.0.2", [("Forwarded", 'for="198.51.100.1:4711";proto=https')], "198.51.100.1"),
        ("10.0.0.2", [("Forwarded", 'for="[2001:db9::7]:4711"')], "2001:db9::7"),
        # Through two trusted proxies: the nearest untrusted address; what it wrote before is not believed.
        ("10.0.0.2", [("X-Forwarded-For", "1.1.1.1, 198.51.100.1, 10.9.9.9")], "198.51.100.1"),
        ("10.0.0.2", [("Forwarded", "for=1.1.1.1, for=198.51.100.1;by=x, for=10.9.9.9")], "198.51.100.1"),
        ("2001:db8::5", [("X-Forwarded-For", "198.51.100.1")], "198.51.100.1"),
        # Forwarded is read before X-Forwarded-For, and its obfuscated names count as a client.
        ("10.0.0.2", [("Forwarded", "for=_hidden"), ("X-Forwarded-For", "198.51.100.1")], "_hidden"),
        # A trusted proxy that names nobody, or only trusted ones.
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", [("X-Forwarded-For", "10.1.1.1, 10.2.2.2")], "10.1.1.1"),
    ],
)
def test_the_client_is_named_by_trusted_proxies_only(
    peer: str, headers: list[tuple[str, str]], client: str
) -> None:
    assert client_address(request_from(peer, *headers), PROXIES) == client


def test_headers_sent_twice_make_one_chain() -> None:
    request = request_from("10.0.0.2", ("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2"))
    assert forwarded_chain(request) == ["1.1.1.1", "2.2.2.2"]


def test_an_address_past_the_limit_is_refused_with_when_to_retry() -> None:
    limit = NewSessions("3/minute")
    for _ in range(3):
        limit.take("198.51.100.1")
    with pytest.raises(TooManyRequestsError) as refused:
        limit.take("198.51.100.1")
    assert 1 <= refused.value.retry_after <= 60
    assert "at most 3 per 1 minute" in str(refused.value)
    limit.take("198.51.100.2")  # another address has its own count


def test_processes_on_one_redis_count_together(redis_url: str) -> None:
    first, second = NewSessions("2/minute", redis_url), NewSessions("2/minute", redis_url)
    first.take("198.51.100.1")
    second.take("198.51.100.1")
    with pytest.raises(TooManyRequestsError):
        first.take("198.51.100.1")
    with pytest.raises(TooManyRequestsError):
        second.take("198.51.100.1")


def test_the_settings_choose_the_limit_and_where_it_is_counted(redis_url: str) -> None:
    assert NewSessions.of(Settings(rate_limit="")) is None
    assert str(NewSessions.of(Settings()).rate) == "120 per 1 minute"  # type: ignore[union-attr]
    shared = Settings.from_env({"BACKPROP_STORE": redis_url, "BACKPROP_RATE_LIMIT": "1/hour"})
    NewSessions.of(shared).take("x")  # type: ignore[union-attr]
    with pytest.raises(TooManyRequestsError):
        NewSessions("1/hour", redis_url).take("x")


# --------------------------------------------------------------------------------------------
# The routes that make sessions
# --------------------------------------------------------------------------------------------


@pytest.fixture
def limited(training_pool: TrainingPool) -> FastAPI:
    settings = Settings(store="memory", rate_limit="2/minute", trusted_proxies=PROXIES)
    return create_app(settings, store=MemoryStore(ttl=3600.0, max_sessions=100), pool=training_pool)


@pytest.fixture
async def proxied(limited: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client behind a trusted proxy."""
    transport = httpx.ASGITransport(app=limited, client=("10.0.0.2", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.anyio
async def test_new_sessions_past_the_limit_are_429_with_retry_after(
    proxied: httpx.AsyncClient, limited: FastAPI
) -> None:
    one = {"X-Forwarded-For": "198.51.100.1"}
    assert (await proxied.post("/api/sessions", headers=one)).status_code == 201
    exported = (
        await proxied.get(
            f"/api/sessions/{(await proxied.post('/api/sessions', headers=one)).json()['id']}/export"
        )
    ).json()
    for refused in (
        await proxied.post("/api/sessions", headers=one),
        await proxied.post("/api/sessions/import", json=exported, headers=one),
    ):
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "too many new sessions" in refused.json()["detail"]
    assert limited.state.store.count() == 2
    other = {"X-Forwarded-For": "198.51.100.2"}  # another client behind the same proxy
    assert (await proxied.post("/api/sessions/import", json=exported, headers=other)).status_code == 201
    assert limited.state.store.count() == 3


@pytest.mark.anyio
async def test_the_limit_counts_new_sessions_only(proxied: httpx.AsyncClient) -> None:
    sid = (await proxied.post("/api/sessions")).json()["id"]
    for _ in range(5):
        assert (await proxied.post(f"/api/sessions/{sid}/step")).status_code == 200
        assert (await proxied.get(f"/api/sessions/{sid}")).status_code == 200
    assert (await proxied.post("/api/sessions")).status_code == 201
    assert (await proxied.post("/api/sessions")).status_code == 429
