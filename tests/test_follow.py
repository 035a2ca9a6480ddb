"""Follow links (app/follow.py): a random id per session, kept in the store's records, one per
session across processes, renewed by use, gone with disuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app import follow
from app.session import create
from app.store import MemoryStore, SessionStore
from tests.test_store import TTL, FakeClock, StoreFactory, factory


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StoreFactory]:
    yield from factory(request, tmp_path, clock)


@pytest.fixture(params=["sqlite", "redis"])
def make_shared_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[StoreFactory]:
    """The stores several processes share (two made here are two processes)."""
    yield from factory(request, tmp_path, clock)


@pytest.fixture(params=["memory", "sqlite"])
def make_clocked_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[StoreFactory]:
    """The stores whose records expire by the test's clock (Redis counts time itself)."""
    yield from factory(request, tmp_path, clock)


def stored(store: SessionStore, session_id: str = "presenter-session") -> str:
    store.add(create(session_id))
    return session_id


def test_a_session_keeps_one_random_follow_id_that_leads_back_to_it(make_store: StoreFactory) -> None:
    store = make_store()
    first, second = stored(store, "session-one"), stored(store, "session-two")
    link = follow.follow_id(store, first, TTL)
    assert link != first and first not in link and len(link) == 22
    assert follow.follow_id(store, first, TTL) == link  # asked again: the same id
    other = follow.follow_id(store, second, TTL)
    assert other != link
    assert follow.session_of(store, link, TTL) == first
    assert follow.session_of(store, other, TTL) == second


def test_every_process_sharing_the_store_sees_the_same_follow_id(make_shared_store: StoreFactory) -> None:
    one, two = make_shared_store(), make_shared_store()
    sid = stored(one)
    link = follow.follow_id(two, sid, TTL)
    assert follow.follow_id(one, sid, TTL) == link
    assert follow.session_of(one, link, TTL) == sid


@pytest.mark.parametrize("unknown", ["", "x" * 65, "no-such-follow-id", "presenter-session"])
def test_an_unknown_follow_id_leads_nowhere(make_store: StoreFactory, unknown: str) -> None:
    store = make_store()
    follow.follow_id(store, stored(store), TTL)
    assert follow.session_of(store, unknown, TTL) is None  # the session's own id is no follow id


class _RacedStore(MemoryStore):
    """A store in which another process stores its follow id just before this one does."""

    def _put_record(self, kind: str, key: str, value: bytes, ttl: float, only_if_absent: bool) -> bool:
        if kind == follow.FOLLOWED_RECORD and only_if_absent:
            super()._put_record(follow.FOLLOW_RECORD, "theirs", key.encode(), ttl, False)
            super()._put_record(kind, key, b"theirs 1000.0", ttl, False)
        return super()._put_record(kind, key, value, ttl, only_if_absent)


def test_when_two_processes_make_an_id_at_once_both_use_the_one_stored_first() -> None:
    store = _RacedStore(ttl=TTL, max_sessions=10, clock=FakeClock())
    sid = stored(store)
    assert follow.follow_id(store, sid, TTL) == "theirs"
    assert follow.session_of(store, "theirs", TTL) == sid
    assert store._records.keys() == {(follow.FOLLOW_RECORD, "theirs"), (follow.FOLLOWED_RECORD, sid)}


def test_a_follow_id_lasts_while_it_is_used(make_clocked_store: StoreFactory, clock: FakeClock) -> None:
    store = make_clocked_store()
    sid = stored(store)
    link = follow.follow_id(store, sid, TTL)
    for _ in range(8):  # 8 × 0.3 TTL: more than twice the time to live, used all along
        clock.advance(0.3 * TTL)
        assert follow.follow_id(store, sid, TTL) == link
    for _ in range(8):  # and renewed by the followers alone too
        clock.advance(0.3 * TTL)
        assert follow.session_of(store, link, TTL) == sid
    assert follow.follow_id(store, sid, TTL) == link


def test_an_unused_follow_id_expires_and_the_session_gets_a_new_one(
    make_clocked_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_clocked_store()
    sid = stored(store)
    link = follow.follow_id(store, sid, TTL)
    clock.advance(0.2 * TTL)
    assert follow.follow_id(store, sid, TTL) == link  # not yet due for renewal: nothing rewritten
    clock.advance(0.85 * TTL)  # 1.05 TTL after it was issued
    assert follow.session_of(store, link, TTL) is None
    fresh = follow.follow_id(store, sid, TTL)
    assert fresh != link
    assert follow.session_of(store, fresh, TTL) == sid


def test_a_follow_id_the_session_no_longer_has_leads_nowhere(make_store: StoreFactory) -> None:
    store = make_store()
    sid = stored(store)
    link = follow.follow_id(store, sid, TTL)
    store.delete_record(follow.FOLLOWED_RECORD, sid)
    assert follow.session_of(store, link, TTL) is None
    assert follow.follow_id(store, sid, TTL) != link
