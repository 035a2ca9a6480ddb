"""Shared fixtures: an app on an in-memory store and an httpx client talking to it in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.settings import Settings
from app.store import MemoryStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(ttl=3600.0, max_sessions=1000)


@pytest.fixture
def app(store: MemoryStore) -> FastAPI:
    return create_app(Settings(store="memory"), store=store)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
