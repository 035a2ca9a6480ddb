"""Session stores (app/store/): the same behaviour from MemoryStore, SqliteStore and RedisStore (on a
real redis-server, see tests/redis_server.py), then what each backend adds."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest
import redis

from app import codec
from app.errors import PhaseError, SessionNotFoundError, StoreBusyError, StoreFullError
from app.session import Session, create, restore, run_backward, run_step, run_substep, train
from app.settings import Settings
from app.store import MemoryStore, RedisStore, SessionStore, SqliteStore, open_store
from app.store import sqlite as sqlite_store
from tests.redis_server import wait_until
from tests.test_session import assert_params_equal, assert_sessions_equal, stepped

TTL = 100.0
#: The tests' "last hour": a session used this recently is never evicted (stores keep an hour).
RECENT = 10.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StoreFactory(Protocol):
    def __call__(self, *, max_sessions: int = 100, keep_recent: float = RECENT) -> SessionStore: ...


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def factory(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StoreFactory]:
    """Stores of the kind ``request.param`` on the test's clock; SqliteStores share one file and
    RedisStores one database (a second store is another server process, or a restart)."""
    kind: str = request.param
    made: list[SessionStore] = []
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""

    def make(*, max_sessions: int = 100, keep_recent: float = RECENT) -> SessionStore:
        store: SessionStore
        if kind == "memory":
            store = MemoryStore(ttl=TTL, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent)
        elif kind == "redis":
            store = RedisStore(url, ttl=TTL, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent)
        else:
            path = tmp_path / "db" / "sessions.sqlite3"
            store = SqliteStore(
                path, ttl=TTL, max_sessions=max_sessions, clock=clock, keep_recent=keep_recent
            )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[StoreFactory]:
    yield from factory(request, tmp_path, clock)


@pytest.fixture(params=["memory", "sqlite"])
def make_clocked_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[StoreFactory]:
    """The stores whose records expire by the test's clock (Redis counts time itself)."""
    yield from factory(request, tmp_path, clock)


@pytest.fixture
def store(make_store: StoreFactory) -> SessionStore:
    return make_store()


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------


def test_add_get_update_delete(store: SessionStore, clock: FakeClock) -> None:
    session = create("a", dataset="xor", seed=3)
    store.add(session)
    assert store.count() == 1
    assert_sessions_equal(store.get("a"), session)
    clock.advance(1)
    updated = store.update("a", run_step)
    assert updated.step == 1
    assert_sessions_equal(store.get("a"), run_step(session))
    assert_sessions_equal(updated, run_step(session))
    store.delete("a")
    assert store.count() == 0
    with pytest.raises(SessionNotFoundError):
        store.get("a")


def test_sessions_are_kept_apart(store: SessionStore) -> None:
    store.add(create("a", seed=1))
    store.add(create("b", seed=2))
    store.update("a", lambda s: stepped(s, 3))
    assert store.get("a").step == 3
    assert store.get("b").step == 0
    assert_params_equal(store.get("b").params, create("b", seed=2).params)
    assert store.count() == 2


def test_unknown_ids_raise_session_not_found(store: SessionStore) -> None:
    store.add(create("a"))
    with pytest.raises(SessionNotFoundError, match="no session 'nope'") as info:
        store.get("nope")
    assert info.value.session_id == "nope"
    with pytest.raises(SessionNotFoundError):
        store.update("nope", run_step)
    with pytest.raises(SessionNotFoundError):
        store.delete("nope")
    store.delete("a")
    with pytest.raises(SessionNotFoundError):
        store.delete("a")
    with pytest.raises(SessionNotFoundError):
        store.update("a", run_step)


def test_session_not_found_is_a_lookup_error() -> None:
    assert issubclass(SessionNotFoundError, LookupError)


@pytest.mark.parametrize("error", [ValueError("boom"), PhaseError("run forward first")])
def test_update_is_atomic_when_the_change_raises(
    make_store: StoreFactory, clock: FakeClock, error: Exception
) -> None:
    store = make_store()
    session = stepped(create("a", dataset="xor"), 2)
    store.add(session)

    def change(current: Session) -> Session:
        run_step(current)  # work done, then thrown away
        raise error

    with pytest.raises(type(error), match=str(error)):
        store.update("a", change)
    assert_sessions_equal(store.get("a"), session)
    # A real phase error from the session functions, too.
    with pytest.raises(PhaseError):
        store.update("a", run_backward)
    assert_sessions_equal(store.get("a"), session)
    # The store still works afterwards (no lock or transaction left open).
    assert store.update("a", run_step).step == 3
    # ... and a second store on the same data sees the committed state only.
    if isinstance(store, (SqliteStore, RedisStore)):
        assert_sessions_equal(make_store().get("a"), run_step(session))


def slow_step(session: Session) -> Session:
    """run_step after a pause: the thread lets go of the GIL between load and save."""
    time.sleep(0.002)
    return run_step(session)


@pytest.mark.parametrize("change", [run_step, slow_step], ids=["run_step", "slow_step"])
def test_concurrent_updates_are_serialised(
    make_store: StoreFactory, change: Callable[[Session], Session]
) -> None:
    store = make_store()
    session = create("a", seed=4)
    store.add(session)
    start = threading.Barrier(50, timeout=30)

    def one_step(_: int) -> int:
        start.wait()  # all 50 threads call update at once
        return store.update("a", change).step

    with ThreadPoolExecutor(max_workers=50) as pool:
        steps = list(pool.map(one_step, range(50)))
    assert sorted(steps) == list(range(1, 51))
    final = store.get("a")
    expected = stepped(session, 50)
    assert final.step == 50
    assert_params_equal(final.params, expected.params)
    assert final.loss_history == expected.loss_history
    assert_sessions_equal(final, expected)


# --------------------------------------------------------------------------------------------
# Expiry and eviction
# --------------------------------------------------------------------------------------------


def test_sessions_expire_after_ttl_unused(store: SessionStore, clock: FakeClock) -> None:
    store.add(create("a"))
    clock.advance(TTL)  # exactly ttl: still there, and the get refreshes it
    assert store.get("a").id == "a"
    clock.advance(TTL - 1)
    assert store.update("a", run_step).step == 1  # refreshed again
    clock.advance(TTL + 0.5)
    with pytest.raises(SessionNotFoundError):
        store.get("a")
    with pytest.raises(SessionNotFoundError):
        store.update("a", run_step)


def test_an_expired_session_is_not_changed(store: SessionStore, clock: FakeClock) -> None:
    store.add(create("a"))
    clock.advance(TTL + 1)
    calls: list[str] = []

    def change(current: Session) -> Session:
        calls.append(current.id)
        return current

    with pytest.raises(SessionNotFoundError):
        store.update("a", change)
    assert calls == []


def test_add_drops_expired_sessions(store: SessionStore, clock: FakeClock) -> None:
    store.add(create("old"))
    clock.advance(50)
    store.add(create("mid"))
    clock.advance(TTL - 10)  # "old" is 140 s unused, "mid" 90 s
    store.add(create("new"))
    assert store.count() == 2
    with pytest.raises(SessionNotFoundError):
        store.get("old")
    assert store.get("mid").id == "mid"
    assert store.get("new").id == "new"


def test_lru_eviction_when_full(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(max_sessions=3)
    for name in ("a", "b", "c"):
        clock.advance(1)
        store.add(create(name))
    clock.advance(RECENT)
    store.get("a")  # a is now the most recently used: b is the least
    clock.advance(1)
    store.add(create("d"))
    assert store.count() == 3
    with pytest.raises(SessionNotFoundError):
        store.get("b")
    clock.advance(RECENT)
    store.update("c", run_step)  # an update is a use too: now a is the least recently used
    clock.advance(1)
    store.add(create("e"))
    assert store.count() == 3
    with pytest.raises(SessionNotFoundError):
        store.get("a")
    assert {store.get(name).id for name in ("c", "d", "e")} == {"c", "d", "e"}
    assert store.get("c").step == 1


def test_max_sessions_one(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(max_sessions=1)
    store.add(create("a"))
    clock.advance(RECENT)
    store.add(create("b"))
    assert store.count() == 1
    assert store.get("b").id == "b"
    with pytest.raises(SessionNotFoundError):
        store.get("a")


def test_a_session_used_in_the_last_hour_is_never_evicted(make_store: StoreFactory, clock: FakeClock) -> None:
    """Full of sessions all used within RECENT: a new one is refused (StoreFullError, 503) with the
    seconds until the least recently used one may go, and nothing is evicted; once it has aged
    past RECENT it goes, and the next one comes in."""
    store = make_store(max_sessions=3)
    for name in ("a", "b", "c"):
        store.add(create(name))
        clock.advance(2)
    store.get("a")  # used again now: b (used 4 s ago) is the least recently used
    with pytest.raises(StoreFullError) as refused:
        store.add(create("d"))
    assert refused.value.retry_after == RECENT - 4
    assert store.count() == 3
    assert {store.get(name).id for name in ("a", "b", "c")} == {"a", "b", "c"}
    with pytest.raises(SessionNotFoundError):
        store.get("d")
    clock.advance(RECENT - 1)  # b is used again by the reads above: all three used 9 s ago
    with pytest.raises(StoreFullError) as again:
        store.add(create("d"))
    assert again.value.retry_after == 1
    clock.advance(1)
    store.add(create("d"))  # now a is RECENT old: it goes
    assert store.count() == 3
    with pytest.raises(SessionNotFoundError):
        store.get("a")


def test_a_full_store_still_drops_its_expired_sessions(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(max_sessions=2, keep_recent=TTL)
    store.add(create("old"))
    clock.advance(TTL - 5)
    store.add(create("new"))
    clock.advance(6)  # "old" expired, "new" used 6 s ago: room for one without an eviction
    store.add(create("newer"))
    assert store.count() == 2
    with pytest.raises(StoreFullError):
        store.add(create("newest"))
    assert {store.get(name).id for name in ("new", "newer")} == {"new", "newer"}


# --------------------------------------------------------------------------------------------
# SQLite: restarts and closing
# --------------------------------------------------------------------------------------------


def partial_session() -> Session:
    """A session with everything set: dataset row, future states, a sub-step half done."""
    session = stepped(create("p", layers=[2, 4, 3, 1], dataset="xor", seed=9, learning_rate=0.9), 6)
    session = restore(session, 5)
    for _ in range(5):  # three forward layers, the loss, one δ of three
        session = run_substep(session)
    assert session.phase == "backwarding"
    return session


@pytest.mark.parametrize("substeps", [0, 1, 2, 4, 5, 6, 8])
def test_sqlite_restart_returns_an_equal_session(tmp_path: Path, substeps: int) -> None:
    clock = FakeClock()
    path = tmp_path / "sessions.sqlite3"
    session = restore(stepped(create("s", layers=[2, 4, 3, 1], dataset="xor", seed=9), 6), 5)
    for _ in range(substeps):
        session = run_substep(session)
    first = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    try:
        first.add(session)
    finally:
        first.close()
    clock.advance(5)
    second = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    try:
        back = second.get("s")
        assert_sessions_equal(back, session)
        assert back.phase == session.phase
        assert back.sample_index == session.sample_index == (0 if substeps == 0 else 1)
        assert len(tuple(back.history.losses().tolist())) == 6
        assert back.step == 5 + (1 if substeps == 8 else 0)
        assert [h.step for h in back.history.snapshots()] == [h.step for h in session.history.snapshots()]
        # It carries on exactly as the original would.
        assert_sessions_equal(run_substep(back), run_substep(session))
    finally:
        second.close()


def test_sqlite_restart_after_updates(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "nested" / "dir" / "sessions.sqlite3"  # created on first use
    session = partial_session()
    first = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    first.add(create("p", layers=[2, 4, 3, 1], dataset="xor", seed=9, learning_rate=0.9))
    first.update("p", lambda _: session)
    first.close()
    assert path.exists()
    second = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    try:
        back = second.get("p")
        assert_sessions_equal(back, session)
        assert back.forward is not None
        assert back.forward.complete
        assert back.backward is not None
        assert back.backward.layers_done == 1
        assert second.count() == 1
    finally:
        second.close()


def test_sqlite_expiry_is_kept_across_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "sessions.sqlite3"
    first = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    first.add(create("a"))
    first.close()
    clock.advance(TTL + 1)
    second = SqliteStore(path, ttl=TTL, max_sessions=10, clock=clock)
    try:
        with pytest.raises(SessionNotFoundError):
            second.get("a")
    finally:
        second.close()


def test_sqlite_close_releases_every_connection(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", ttl=TTL, max_sessions=10, clock=FakeClock())
    store.add(create("a"))
    with ThreadPoolExecutor(max_workers=4) as pool:  # connections are pooled, one per request at a time
        assert list(pool.map(lambda _: store.get("a").id, range(8))) == ["a"] * 8
    connections = list(store._connections)
    assert 1 <= len(connections) <= 4
    store.close()
    assert store._connections == []
    for db in connections:
        with pytest.raises(sqlite3.ProgrammingError):
            db.execute("SELECT 1")
    store.close()  # closing twice is harmless


def test_memory_store_close_is_harmless() -> None:
    store = MemoryStore(ttl=TTL, max_sessions=10, clock=FakeClock())
    store.add(create("a"))
    store.close()
    assert store.get("a").id == "a"


def test_sqlite_stores_the_state_apart_from_the_history(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path, ttl=TTL, max_sessions=10, clock=FakeClock(5.0))
    try:
        store.add(stepped(create("a"), 3))
        db = sqlite3.connect(path)
        try:
            ((state, last_used),) = db.execute("SELECT state, last_used FROM session_states").fetchall()
            losses = db.execute("SELECT chunk, length(data) FROM losses WHERE sid = 'a'").fetchall()
            kept = db.execute("SELECT step FROM kept WHERE sid = 'a' ORDER BY step").fetchall()
        finally:
            db.close()
        assert last_used == 5.0
        assert '"format":"backprop-viz.state"' in state
        assert "loss_trajectory" not in state
        assert losses == [(0, 3 * 8)]
        assert kept == [(0,), (1,), (2,), (3,)]
        assert store.history_rows("a") == {"losses": 1, "kept": 4, "envelope": 3}
    finally:
        store.close()


def state_bytes(path: Path, session_id: str) -> int:
    db = sqlite3.connect(path)
    try:
        ((size,),) = db.execute("SELECT length(state) FROM session_states WHERE id = ?", (session_id,))
    finally:
        db.close()
    return int(size)


def test_a_sessions_stored_state_stays_small_however_long_it_trains(tmp_path: Path) -> None:
    """The 2-3-2 state is under 10 KB fresh and after 100,000 updates: the history is elsewhere."""
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path, ttl=TTL, max_sessions=10)
    try:
        store.add(create("a"))
        fresh = state_bytes(path, "a")
        store.update("a", lambda s: train(s, 100_000))
        trained = state_bytes(path, "a")
        assert fresh < 10_000
        assert trained < 10_000
        assert store.get("a").history.loss_count == 100_000
    finally:
        store.close()


class Tracer:
    """Every statement the store's connections run, with its parameters written out."""

    def __init__(self, store: SqliteStore) -> None:
        self.statements: list[str] = []
        store.ping()
        for db in store._connections:
            db.set_trace_callback(self.statements.append)

    def measure(self, action: Callable[[], object]) -> tuple[int, int]:
        """Statements that write, and their bytes, while ``action`` runs."""
        self.statements.clear()
        action()
        writes = [s for s in self.statements if s.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]
        return len(writes), sum(len(s) for s in writes)


def test_a_steps_store_write_does_not_grow_with_the_history(tmp_path: Path) -> None:
    """Writes of 600 steps on a fresh session and of the same 600 steps after 20,480 more: the same
    statements and, but for the thinnings, the same bytes (chunk positions line up: 20,480 is a
    multiple of the chunk size)."""
    store = SqliteStore(tmp_path / "s.sqlite3", ttl=TTL, max_sessions=10)
    try:
        store.add(create("fresh"))
        store.add(create("old"))
        store.update("old", lambda s: train(s, 20_480))
        tracer = Tracer(store)

        def per_step(session_id: str) -> list[tuple[int, int]]:
            return [tracer.measure(lambda: store.update(session_id, run_step)) for _ in range(600)]

        fresh, old = per_step("fresh"), per_step("old")
        thinning = [k for k, (count, _) in enumerate(old) if count > fresh[k][0]]
        # One thinning every 250 updates once 1,000 states are kept (there are, after 20,480).
        assert len(thinning) == 3
        assert thinning[1] - thinning[0] == thinning[2] - thinning[1] == 250
        for k in range(600):
            if k in thinning:
                continue
            assert old[k][0] == fresh[k][0]
            if k >= 100:  # from then on both states carry 100 recent losses
                # The numbers written (losses, weights) differ in their digits only.
                assert abs(old[k][1] - fresh[k][1]) < 200
        assert max(count for count, _ in old) < 300  # a thinning drops 250 rows
    finally:
        store.close()


def test_reads_of_a_long_history_touch_only_what_they_need(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", ttl=TTL, max_sessions=10)
    try:
        store.add(create("a"))
        store.update("a", lambda s: train(s, 5_000))
        tracer = Tracer(store)
        tracer.measure(lambda: store.get("a"))
        assert not [s for s in tracer.statements if "losses" in s or "kept" in s or "envelope" in s]
        tracer.statements.clear()
        store.stamp("a")
        assert len(tracer.statements) == 1
    finally:
        store.close()


def test_eviction_and_expiry_drop_the_history_too(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteStore(path, ttl=TTL, max_sessions=2, clock=clock, keep_recent=1)
    try:
        store.add(stepped(create("a"), 3))
        clock.advance(1)
        store.add(stepped(create("b"), 3))
        clock.advance(1)
        store.add(stepped(create("c"), 3))  # evicts "a"
        assert store.history_rows("a") == {"losses": 0, "kept": 0, "envelope": 0}
        clock.advance(TTL + 1)
        with pytest.raises(SessionNotFoundError):
            store.get("b")  # expired: dropped as it is read
        assert store.history_rows("b") == {"losses": 0, "kept": 0, "envelope": 0}
        store.delete("c")
        assert store.history_rows("c") == {"losses": 0, "kept": 0, "envelope": 0}
    finally:
        store.close()


def test_sessions_stored_by_the_previous_version_are_migrated(tmp_path: Path) -> None:
    """A file in the layout before the history moved out (one JSON document per session, history
    inside) is converted when opened: every session keeps its state, history and last use."""
    path = tmp_path / "old.sqlite3"
    session = stepped(create("old", layers=[2, 4, 2], seed=3), 7)
    session = restore(session, 4)  # losses run past the step: the timeline can jump forward
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, document TEXT NOT NULL, last_used REAL NOT NULL,"
        " version INTEGER NOT NULL DEFAULT 0)"
    )
    document = json.dumps(codec.to_document(session, compact=True), separators=(",", ":"))
    db.execute("INSERT INTO sessions VALUES ('old', ?, 1000.0, 3)", (document,))
    db.execute("INSERT INTO sessions VALUES ('broken', '{\"format\": 1}', 1000.0, 0)")
    db.commit()
    db.close()
    store = SqliteStore(path, ttl=TTL, max_sessions=10, clock=FakeClock(1000.0))
    try:
        migrated = store.get("old")
        assert_sessions_equal(migrated, session)
        assert migrated.history.loss_count == 7
        assert_sessions_equal(restore(migrated, 6), restore(session, 6))
        with pytest.raises(SessionNotFoundError):
            store.get("broken")
        assert store.count() == 1
    finally:
        store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA user_version").fetchone() == (2,)
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "sessions" not in tables
    finally:
        check.close()


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    memory = open_store(Settings(store="memory", session_ttl=5.0, max_sessions=7))
    assert isinstance(memory, MemoryStore)
    assert (memory.ttl, memory.max_sessions) == (5.0, 7)
    sqlite = open_store(Settings(store="sqlite", data_dir=tmp_path, session_ttl=9.0, max_sessions=3))
    try:
        assert isinstance(sqlite, SqliteStore)
        assert sqlite.path == tmp_path / "sessions.sqlite3"
        assert (sqlite.ttl, sqlite.max_sessions) == (9.0, 3)
        assert not sqlite.path.exists()  # nothing touched until first use
    finally:
        sqlite.close()


def test_stores_return_independent_values(store: SessionStore) -> None:
    """A session read from the store is a value: stepping it does not change the stored one."""
    store.add(create("a", seed=2))
    got = store.get("a")
    run_step(got)
    again = store.get("a")
    assert again.step == 0
    assert np.array_equal(again.params.weights[0], create("a", seed=2).params.weights[0])


def test_sqlite_threads_that_come_and_go_leave_no_connections(tmp_path: Path) -> None:
    """A connection is borrowed per operation, so 40 short-lived threads reuse a few connections."""
    store = SqliteStore(tmp_path / "pool.sqlite3", ttl=3600.0, max_sessions=100)
    store.add(create("pooled"))
    threads = [threading.Thread(target=store.update, args=("pooled", run_step)) for _ in range(40)]
    for thread in threads:
        thread.start()
        thread.join()
    assert store.get("pooled").step == 40
    assert store.open_connections() == 1
    store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_lock_table_does_not_grow_with_unknown_ids(tmp_path: Path, kind: str) -> None:
    store: SessionStore = (
        MemoryStore(ttl=TTL, max_sessions=3, keep_recent=0)
        if kind == "memory"
        else SqliteStore(tmp_path / "locks.sqlite3", ttl=TTL, max_sessions=3, keep_recent=0)
    )
    for k in range(200):
        with pytest.raises(SessionNotFoundError):
            store.get(f"unknown-{k}")
        with pytest.raises(SessionNotFoundError):
            store.update(f"unknown-{k}", run_step)
    for k in range(10):
        store.add(create(f"s{k}"))  # evicts beyond 3
    store.update("s9", run_step)
    assert store.lock_count() == 0
    store.close()


def test_a_long_sqlite_update_does_not_block_other_sessions(tmp_path: Path) -> None:
    """The change runs outside the database transaction: another session reads and writes meanwhile."""
    store = SqliteStore(tmp_path / "long.sqlite3", ttl=TTL, max_sessions=10)
    store.add(create("slow"))
    store.add(create("other"))
    started = threading.Event()

    def slow_step(s: Session) -> Session:
        started.set()
        time.sleep(1.0)
        return run_step(s)

    thread = threading.Thread(target=store.update, args=("slow", slow_step))
    thread.start()
    assert started.wait(5)
    begin = time.monotonic()
    assert store.update("other", run_step).step == 1
    assert store.get("other").step == 1
    assert time.monotonic() - begin < 0.5
    thread.join()
    assert store.get("slow").step == 1
    store.close()


def test_sqlite_update_recomputes_when_another_process_wrote_meanwhile(tmp_path: Path) -> None:
    """Two stores on one file stand for two server processes: no update is lost."""
    path = tmp_path / "two.sqlite3"
    first = SqliteStore(path, ttl=TTL, max_sessions=10)
    second = SqliteStore(path, ttl=TTL, max_sessions=10)
    first.add(create("shared"))
    calls = []

    def step_racing_the_other_process(s: Session) -> Session:
        calls.append(s.step)
        if len(calls) == 1:
            second.update("shared", run_step)  # lands between this read and this write
        return run_step(s)

    assert first.update("shared", step_racing_the_other_process).step == 2
    assert calls == [0, 1]  # recomputed from the other process's result
    expected = run_step(run_step(create("shared")))
    assert_params_equal(first.get("shared").params, expected.params)
    first.close()
    second.close()


def test_sqlite_a_long_update_is_recomputed_outside_a_transaction_and_may_give_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change too long to hold the file's write lock (here: every change) is recomputed with no
    transaction open, so another process that writes each time makes it give up (503) after
    CONFLICT_RETRIES tries, changing nothing; a short one is redone under the lock instead."""
    monkeypatch.setattr(sqlite_store, "LOCKED_CHANGE_SECONDS", 0.0)
    path = tmp_path / "two.sqlite3"
    first = SqliteStore(path, ttl=TTL, max_sessions=10)
    second = SqliteStore(path, ttl=TTL, max_sessions=10)
    first.add(create("shared"))
    calls = []

    def always_raced(s: Session) -> Session:
        calls.append(s.step)
        second.update("shared", run_step)
        return run_step(s)

    with pytest.raises(StoreBusyError):
        first.update("shared", always_raced)
    assert len(calls) == sqlite_store.CONFLICT_RETRIES
    assert first.get("shared").step == sqlite_store.CONFLICT_RETRIES  # only the other process's steps
    first.close()
    second.close()


def test_ping_answers_when_the_store_is_usable(store: SessionStore) -> None:
    store.ping()  # returns, whichever backend
    store.add(create("p", seed=7))
    store.ping()
    assert store.get("p").id == "p"


def test_sqlite_ping_opens_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "new" / "sessions.sqlite3", ttl=60.0, max_sessions=10)
    store.ping()
    assert (tmp_path / "new" / "sessions.sqlite3").is_file()
    store.close()


def test_sqlite_ping_raises_when_the_file_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the data folder should be")
    store = SqliteStore(tmp_path / "not-a-folder" / "sessions.sqlite3", ttl=60.0, max_sessions=10)
    with pytest.raises(OSError, match="not-a-folder"):
        store.ping()


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def let_expire(store: SessionStore, clock: FakeClock, kind: str, key: str, ttl: float) -> None:
    """Let a record put with ``ttl`` expire: the test's clock moves on by ``ttl``; Redis counts the
    time itself, so there the record's time to live is cut to 1 ms and the test waits it out."""
    clock.advance(ttl)
    if isinstance(store, RedisStore):
        with redis.Redis.from_url(store.url) as client:
            assert client.pexpire(f"backprop:r:{kind}:{key}", 1)
            wait_until(lambda: client.exists(f"backprop:r:{kind}:{key}") == 0, 10.0, "the record to expire")


def test_records_put_get_and_delete(store: SessionStore) -> None:
    assert store.get_record("lease", "a") is None
    assert store.put_record("lease", "a", b"first", 60.0) is True
    assert store.get_record("lease", "a") == b"first"
    assert store.put_record("lease", "a", b"second", 60.0) is True  # replaces
    assert store.get_record("lease", "a") == b"second"
    # Kinds and keys are separate names; a record is not a session.
    assert store.put_record("other", "a", b"\x00\xff binary", 60.0)
    assert store.put_record("lease", "a:b", b"", 60.0)
    assert store.get_record("other", "a") == b"\x00\xff binary"
    assert store.get_record("lease", "a:b") == b""
    assert store.get_record("lease", "a") == b"second"
    assert store.count() == 0
    assert store.delete_record("lease", "a") is True
    assert store.get_record("lease", "a") is None
    assert store.delete_record("lease", "a") is False
    assert store.get_record("other", "a") == b"\x00\xff binary"


def test_records_only_if_absent(store: SessionStore, clock: FakeClock) -> None:
    assert store.put_record("lease", "a", b"mine", 10.0, only_if_absent=True) is True
    assert store.put_record("lease", "a", b"yours", 10.0, only_if_absent=True) is False
    assert store.get_record("lease", "a") == b"mine"
    let_expire(store, clock, "lease", "a", 10.0)
    assert store.put_record("lease", "a", b"yours", 10.0, only_if_absent=True) is True
    assert store.get_record("lease", "a") == b"yours"


def test_records_compare_and_set(store: SessionStore, clock: FakeClock) -> None:
    assert store.replace_record("lease", "a", b"x", b"y", 10.0) is False  # nothing there
    assert store.get_record("lease", "a") is None
    store.put_record("lease", "a", b"x", 10.0)
    assert store.replace_record("lease", "a", b"not x", b"y", 10.0) is False
    assert store.get_record("lease", "a") == b"x"
    assert store.replace_record("lease", "a", b"x", b"y", 10.0) is True
    assert store.get_record("lease", "a") == b"y"
    assert store.delete_record("lease", "a", expected=b"x") is False
    assert store.get_record("lease", "a") == b"y"
    assert store.delete_record("lease", "a", expected=b"y") is True
    assert store.get_record("lease", "a") is None
    # An expired record is nothing: it cannot be replaced or deleted.
    store.put_record("lease", "b", b"old", 10.0)
    let_expire(store, clock, "lease", "b", 10.0)
    assert store.replace_record("lease", "b", b"old", b"new", 10.0) is False
    assert store.delete_record("lease", "b", expected=b"old") is False
    assert store.get_record("lease", "b") is None


def test_records_expire_after_their_ttl_and_a_replace_renews_it(
    make_clocked_store: StoreFactory, clock: FakeClock
) -> None:
    """(Redis: tests/test_store_redis.py::test_records_use_redis_expiry.)"""
    store = make_clocked_store()
    store.put_record("lease", "a", b"x", 10.0)
    clock.advance(9.5)
    assert store.get_record("lease", "a") == b"x"
    assert store.replace_record("lease", "a", b"x", b"x", 10.0)  # a renewal: 10 s from now
    clock.advance(9.5)
    assert store.get_record("lease", "a") == b"x"
    clock.advance(0.5)  # exactly the ttl since the renewal: gone
    assert store.get_record("lease", "a") is None


def test_expired_records_do_not_pile_up(make_clocked_store: StoreFactory, clock: FakeClock) -> None:
    """(Redis drops expired keys itself.)"""
    store = make_clocked_store()
    assert isinstance(store, (MemoryStore, SqliteStore))
    for k in range(300):
        store.put_record("idem", f"k{k}", b"answer", 5.0)
    assert store.record_count() == 300
    clock.advance(6.0)
    for _ in range(300):  # a few writes of one live record drop every expired one
        store.put_record("lease", "live", b"x", 5.0)
    assert store.record_count() == 1
    assert store.get_record("lease", "live") == b"x"


@pytest.mark.parametrize(
    ("kind", "key", "value", "ttl", "message"),
    [
        ("", "a", b"", 1.0, "record kind"),
        ("Lease", "a", b"", 1.0, "record kind"),
        ("lease:x", "a", b"", 1.0, "record kind"),
        ("a" * 33, "a", b"", 1.0, "record kind"),
        ("lease", "", b"", 1.0, "record key"),
        ("lease", "k" * 257, b"", 1.0, "record key"),
        ("lease", "a", b"x" * (64 * 1024 + 1), 1.0, "record value"),
        ("lease", "a", b"", 0.0, "record ttl"),
        ("lease", "a", b"", -1.0, "record ttl"),
        ("lease", "a", b"", float("inf"), "record ttl"),
        ("lease", "a", b"", float("nan"), "record ttl"),
    ],
)
def test_malformed_records_are_refused(
    store: SessionStore, kind: str, key: str, value: bytes, ttl: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.put_record(kind, key, value, ttl)
    with pytest.raises(ValueError, match=message):
        store.replace_record(kind, key, b"", value, ttl)
    if message in ("record kind", "record key"):
        with pytest.raises(ValueError, match=message):
            store.get_record(kind, key)
        with pytest.raises(ValueError, match=message):
            store.delete_record(kind, key)
    assert store.put_record("lease", "a", b"x" * (64 * 1024), 1.0)  # the largest value is fine


def test_records_are_atomic_between_stores_on_the_same_data(make_store: StoreFactory) -> None:
    """Stores of one backend on the same data stand for server processes (a memory store for the
    threads of one): one of 16 racing takes a lease, and 16 × 20 compare-and-set increments all count."""
    first = make_store()
    stores = [first, *([make_store() for _ in range(3)] if not isinstance(first, MemoryStore) else [])]
    start = threading.Barrier(16, timeout=30)

    def take(k: int) -> bool:
        start.wait()
        return stores[k % len(stores)].put_record("lease", "one", str(k).encode(), 60.0, only_if_absent=True)

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert sum(pool.map(take, range(16))) == 1
    first.put_record("counter", "n", b"0", 60.0)

    def increment(k: int) -> int:
        own = stores[k % len(stores)]
        tries = 0
        for _ in range(20):
            while True:
                tries += 1
                current = own.get_record("counter", "n")
                assert current is not None
                if own.replace_record("counter", "n", current, str(int(current) + 1).encode(), 60.0):
                    break
        return tries

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(increment, range(16)))
    assert first.get_record("counter", "n") == b"320"


def test_the_stamp_changes_with_every_change_and_nothing_else(store: SessionStore) -> None:
    """What a page's watch compares: a read, or a refused change, leaves it; a change moves it."""
    store.add(create("a"))
    first = store.stamp("a")
    store.get("a")
    assert store.stamp("a") == first
    with pytest.raises(PhaseError):
        store.update("a", run_backward)
    assert store.stamp("a") == first
    store.update("a", run_step)
    second = store.stamp("a")
    assert second != first
    store.update("a", lambda s: s)
    assert store.stamp("a") not in (first, second)
    with pytest.raises(SessionNotFoundError):
        store.stamp("nobody")


def test_a_session_carries_the_stamp_it_was_read_or_written_at(store: SessionStore) -> None:
    """A page shows ``session.stamp`` and its watch compares ``store.stamp()``: they must agree for
    what was read, whatever happens after (read apart, a change landing in between made a stale
    page look current)."""
    store.add(create("a"))
    read = store.get("a")
    assert read.stamp == store.stamp("a")
    stepped = store.update("a", run_step)
    assert stepped.stamp == store.stamp("a") != read.stamp
    assert store.get("a").stamp == stepped.stamp
