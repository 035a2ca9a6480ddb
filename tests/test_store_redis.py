"""What the Redis store (app/store/redis.py) adds to the shared store tests of tests/test_store.py:
its key layout, a step's cost against a long history, Redis's own expiry, an unreachable server,
and the choice of it by the settings. Every test runs on a real redis-server (tests/redis_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from app.errors import SessionNotFoundError, StoreBusyError
from app.main import create_app
from app.session import create, restore, run_step, train
from app.settings import Settings
from app.store import RedisStore, open_store
from app.store.redis import EXPIRY_GRACE, USED
from app.store.redis_history import PREFIX
from tests import redis_server
from tests.processes import free_port
from tests.test_session import assert_sessions_equal, stepped
from tests.test_store import TTL, FakeClock

#: Commands that change data (what a step writes), as INFO commandstats names them.
WRITES = {"set", "setrange", "hset", "zadd", "zrem", "hdel", "pexpire", "del", "evalsha", "eval"}


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as handle:
        yield handle


@pytest.fixture
def store(redis_url: str, clock: FakeClock) -> Iterator[RedisStore]:
    made = RedisStore(redis_url, ttl=TTL, max_sessions=10, clock=clock)
    yield made
    made.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_the_state_is_stored_apart_from_the_history(store: RedisStore, client: redis.Redis) -> None:
    store.add(stepped(create("a"), 3))
    state = client.hget(f"{PREFIX}s:a", "state")
    assert isinstance(state, bytes)
    assert b'"format":"backprop-viz.state"' in state and b"loss_trajectory" not in state
    assert client.hget(f"{PREFIX}s:a", "version") == b"0"
    assert client.zscore(USED, "a") == 1000.0  # the test's clock
    # Three losses of 8 bytes, three envelope buckets of 32, four kept states (0..3).
    assert store.history_keys("a") == {"state": 1, "losses": 24, "envelope": 96, "kept": 4, "params": 4}
    expected = [f"{PREFIX}{kind}:a".encode() for kind in "slekp"]
    assert sorted(client.keys(f"{PREFIX}*")) == sorted([*expected, USED.encode()])


def test_a_cut_history_drops_its_tail_once_it_outweighs_the_rest(store: RedisStore) -> None:
    store.add(create("a"))
    store.update("a", lambda s: train(s, 1000))
    store.update("a", lambda s: run_step(restore(s, 900)))  # 100 losses cut, 1 appended
    # The cut tail (less than what stays) is left to be overwritten: 1000 losses' bytes remain.
    assert store.history_keys("a")["losses"] == 1000 * 8
    assert store.get("a").history.loss_count == 901
    store.update("a", lambda s: run_step(restore(s, 10)))
    assert store.history_keys("a")["losses"] == 11 * 8  # the tail outweighed the rest: rewritten
    back = store.get("a")
    expected = run_step(restore(run_step(restore(train(create("a"), 1000), 900)), 10))
    assert_sessions_equal(back, expected)


class Meter:
    """What the server received and which commands it ran while an action ran (INFO stats)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def _now(self) -> tuple[int, dict[str, int]]:
        stats: dict[str, Any] = self.client.info("stats")
        commands: dict[str, Any] = self.client.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in commands.items()}
        return int(stats["total_net_input_bytes"]), calls

    def measure(self, action: Callable[[], object]) -> tuple[dict[str, int], int]:
        """The write commands run by ``action`` (by name) and the bytes the server received."""
        bytes_before, before = self._now()
        action()
        bytes_after, after = self._now()
        writes = {name: count - before.get(name, 0) for name, count in after.items() if name in WRITES}
        return {name: n for name, n in writes.items() if n}, bytes_after - bytes_before


def test_a_steps_writes_do_not_grow_with_the_history(redis_url: str, client: redis.Redis) -> None:
    """Writes of 600 steps on a fresh session and of the same 600 steps after 20,480 more: the same
    commands and, but for the thinnings, the same bytes received (give or take the digits)."""
    store = RedisStore(redis_url, ttl=TTL, max_sessions=10)
    try:
        store.add(create("fresh"))
        store.add(create("old"))
        store.update("old", lambda s: train(s, 20_480))
        meter = Meter(client)

        def per_step(session_id: str) -> list[tuple[dict[str, int], int]]:
            return [meter.measure(lambda: store.update(session_id, run_step)) for _ in range(600)]

        fresh, old = per_step("fresh"), per_step("old")
        # The very first loss starts the fresh session's envelope (one SET, not SETRANGE + trim).
        assert fresh[0][0]["set"] == 1 and "set" not in old[0][0]
        thinning = [k for k in range(1, 600) if sum(old[k][0].values()) > sum(fresh[k][0].values())]
        # One thinning every 250 updates once 1,000 states are kept (there are, after 20,480).
        assert len(thinning) == 3
        assert thinning[1] - thinning[0] == thinning[2] - thinning[1] == 250
        for k in range(1, 600):
            if k in thinning:
                assert set(old[k][0]) - set(fresh[k][0]) <= {"zrem", "hdel"}
                continue
            assert old[k][0] == fresh[k][0]
            if k >= 100:  # from then on both states carry 100 recent losses
                assert abs(old[k][1] - fresh[k][1]) < 300
        assert max(received for _, received in old) < 30_000  # a thinning names 250 states twice
    finally:
        store.close()


def test_loading_a_long_history_reads_only_the_state(store: RedisStore, client: redis.Redis) -> None:
    store.add(create("a"))
    store.update("a", lambda s: train(s, 5_000))
    before: dict[str, Any] = client.info("commandstats")
    store.get("a")
    store.stamp("a")
    after: dict[str, Any] = client.info("commandstats")
    ran = {
        name.removeprefix("cmdstat_")
        for name, value in after.items()
        if value["calls"] > before.get(name, {"calls": 0})["calls"]
    }
    assert ran == {"hmget", "zscore", "hget", "info"}  # no getrange, zrange or hgetall


def test_keys_carry_redis_expiry_refreshed_on_use(
    store: RedisStore, client: redis.Redis, clock: FakeClock
) -> None:
    """Redis's own expiry cleans up after sessions no process asks for again; it is the TTL plus a
    margin, so the store's clock (which the tests move) decides when a session has expired."""
    store.add(stepped(create("a"), 2))
    limit = (TTL + EXPIRY_GRACE) * 1000
    keys = [f"{PREFIX}{kind}:a" for kind in "slekp"]
    for key in keys:
        assert limit - 5_000 < client.pttl(key) <= limit
        client.pexpire(key, 60_000)
    clock.advance(0.5)
    store.get("a")  # used less than a second ago: not touched again
    assert all(client.pttl(key) <= 60_000 for key in keys)
    clock.advance(1.0)
    store.get("a")
    assert all(client.pttl(key) > limit - 5_000 for key in keys)
    assert client.zscore(USED, "a") == 1001.5


def test_eviction_expiry_and_delete_drop_every_key(
    store: RedisStore, client: redis.Redis, clock: FakeClock
) -> None:
    small = RedisStore(store.url, ttl=TTL, max_sessions=2, clock=clock, keep_recent=1)
    try:
        small.add(stepped(create("a"), 3))
        clock.advance(1)
        small.add(stepped(create("b"), 3))
        clock.advance(1)
        small.add(stepped(create("c"), 3))  # evicts "a"
        assert client.keys(f"{PREFIX}?:a") == []
        clock.advance(TTL + 1)
        with pytest.raises(SessionNotFoundError):
            small.get("b")  # expired: dropped as it is read
        assert client.keys(f"{PREFIX}?:b") == []
        small.delete("c")
        assert client.keys(f"{PREFIX}?:c") == []
        assert client.zcard(USED) == 0
    finally:
        small.close()


def test_records_use_redis_expiry(store: RedisStore, client: redis.Redis) -> None:
    assert store.put_record("lease", "a", b"x", 60.0)
    left = store.record_ttl("lease", "a")
    assert left is not None and 59.0 < left <= 60.0
    client.pexpire(f"{PREFIX}r:lease:a", 5_000)
    assert not store.put_record("lease", "a", b"y", 60.0, only_if_absent=True)
    left = store.record_ttl("lease", "a")
    assert left is not None and left <= 5.0  # a refused put leaves it alone
    assert store.replace_record("lease", "a", b"x", b"x", 60.0)  # a renewal
    left = store.record_ttl("lease", "a")
    assert left is not None and 59.0 < left <= 60.0
    assert store.put_record("lease", "b", b"x", 0.001)
    assert store.record_ttl("lease", "c") is None


def test_an_unreachable_server_makes_the_store_busy_not_broken() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", ttl=TTL, max_sessions=10)
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            store.ping()
        for call in (
            lambda: store.get("a"),
            lambda: store.add(create("a")),
            lambda: store.update("a", run_step),
            lambda: store.count(),
            lambda: store.get_record("lease", "a"),
        ):
            with pytest.raises(StoreBusyError, match="Redis cannot be reached"):
                call()
    finally:
        store.close()


@pytest.mark.anyio
async def test_the_app_answers_503_while_redis_cannot_be_reached() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(Settings.from_env({"BACKPROP_STORE": url}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        created = await http.post("/api/sessions")
        assert created.status_code == 503 and "Redis cannot be reached" in created.json()["detail"]
        assert (await http.get("/api/sessions/abc")).status_code == 503
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "ConnectionError" in ready.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200
    app.state.store.close()


def test_a_session_is_not_found_once_evicted_even_before_its_keys_go(
    store: RedisStore, client: redis.Redis
) -> None:
    """Another process's eviction takes the id out of the set of sessions before it deletes the keys:
    from that moment the session is gone for everyone, and a touch does not bring it back."""
    store.add(create("a"))
    client.zrem(USED, "a")
    with pytest.raises(SessionNotFoundError):
        store.get("a")
    with pytest.raises(SessionNotFoundError):
        store.update("a", run_step)
    with pytest.raises(SessionNotFoundError):
        store.stamp("a")
    assert client.zscore(USED, "a") is None


def test_open_store_picks_redis_without_connecting() -> None:
    url = f"redis://127.0.0.1:{free_port()}/3"
    chosen = open_store(
        Settings.from_env({"BACKPROP_STORE": url, "BACKPROP_SESSION_TTL": "9", "BACKPROP_MAX_SESSIONS": "3"})
    )
    try:
        assert isinstance(chosen, RedisStore)
        assert (chosen.url, chosen.ttl, chosen.max_sessions) == (url, 9.0, 3)
    finally:
        chosen.close()


def test_without_redis_server_the_tests_skip_but_not_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server, "REDIS_SERVER", "no-such-redis-server")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-redis-server not found"):
        redis_server.require_redis_server()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI=true a skipped Redis test is a failure"):
        redis_server.require_redis_server()
