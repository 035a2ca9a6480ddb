"""The hub of followers (app/web/live.py): one watcher per followed session, each change rendered
once for every subscriber, slow subscribers cut to the latest update, nothing kept once the last
subscriber leaves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from app.errors import SessionNotFoundError
from app.web.live import Hub, Subscriber, Update

pytestmark = pytest.mark.anyio

#: Longest a test waits for a condition before failing (the hub ticks every few milliseconds here).
WAIT_SECONDS = 10.0


async def until(condition: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


class FakeSessions:
    """Stamps and renders of sessions the test changes by hand."""

    def __init__(self) -> None:
        self.stamps: dict[str, int] = {}
        self.failing = False

    def stamp(self, session_id: str) -> int:
        if self.failing:
            raise OSError("the store is away")
        if session_id not in self.stamps:
            raise SessionNotFoundError(session_id)
        return self.stamps[session_id]

    def render(self, session_id: str) -> str:
        return f"{session_id} at {self.stamps[session_id]}"


def hub_of(sessions: FakeSessions) -> Hub:
    return Hub(sessions.stamp, sessions.render, interval=0.005)


async def test_each_change_is_rendered_once_and_reaches_every_subscriber() -> None:
    sessions = FakeSessions()
    sessions.stamps["s"] = 1
    hub = hub_of(sessions)
    async with hub.subscribe("s") as a, hub.subscribe("s") as b, hub.subscribe("s") as c:
        assert hub.subscriber_count("s") == 3 and hub.watcher_count() == 1
        for subscriber in (a, b, c):
            assert (await subscriber.next()).data == "s at 1"
        sessions.stamps["s"] = 2
        for subscriber in (a, b, c):
            update = await subscriber.next()
            assert (update.event, update.data, update.stamp) == ("update", "s at 2", 2)
        assert hub.renders == 2  # once per change, not once per subscriber


async def test_a_late_subscriber_gets_the_latest_update_at_once() -> None:
    sessions = FakeSessions()
    sessions.stamps["s"] = 7
    hub = hub_of(sessions)
    async with hub.subscribe("s") as first:
        await first.next()
        async with hub.subscribe("s") as late:
            assert (await late.next()).data == "s at 7"
        assert hub.renders == 1


async def test_sessions_are_watched_apart() -> None:
    sessions = FakeSessions()
    sessions.stamps.update(one=1, two=1)
    hub = hub_of(sessions)
    async with hub.subscribe("one") as one, hub.subscribe("two") as two:
        await one.next(), await two.next()
        assert hub.watcher_count() == 2
        sessions.stamps["two"] = 2
        assert (await two.next()).data == "two at 2"
        assert not one._waiting  # nothing for the other session's follower


async def test_when_the_last_subscriber_leaves_nothing_is_kept() -> None:
    sessions = FakeSessions()
    sessions.stamps["s"] = 1
    hub = hub_of(sessions)
    async with hub.subscribe("s") as subscriber:
        await subscriber.next()
        async with hub.subscribe("s"):
            assert hub.subscriber_count() == 2
        assert hub.subscriber_count() == 1 and hub.watcher_count() == 1
    assert hub.subscriber_count() == 0
    await until(lambda: hub.watcher_count() == 0)  # the watcher stops at its next tick
    assert hub._watches == {}


async def test_a_session_that_ends_sends_gone_and_its_watcher_stops() -> None:
    sessions = FakeSessions()
    sessions.stamps["s"] = 1
    hub = hub_of(sessions)
    async with hub.subscribe("s") as subscriber:
        await subscriber.next()
        del sessions.stamps["s"]
        assert (await subscriber.next()).event == "gone"
        await until(lambda: hub.watcher_count() == 0)


async def test_a_store_failing_for_a_while_is_waited_out(caplog: pytest.LogCaptureFixture) -> None:
    sessions = FakeSessions()
    sessions.stamps["s"] = 1
    hub = hub_of(sessions)
    with caplog.at_level(logging.ERROR, logger="app.web.live"):
        async with hub.subscribe("s") as subscriber:
            await subscriber.next()
            sessions.failing = True
            await until(lambda: len(caplog.records) >= 1)
            sessions.stamps["s"] = 2
            sessions.failing = False
            assert (await subscriber.next()).data == "s at 2"
    assert len(caplog.records) == 1  # said once, not at every tick while it lasted


async def test_close_stops_every_watcher() -> None:
    sessions = FakeSessions()
    sessions.stamps.update(one=1, two=1)
    hub = hub_of(sessions)
    async with hub.subscribe("one"), hub.subscribe("two"):
        await until(lambda: hub.renders == 2)
        await hub.close()
        assert hub.watcher_count() == 0


def update(n: int) -> Update:
    return Update("update", f"view {n}", n)


async def test_a_subscriber_that_falls_behind_keeps_only_the_latest_update() -> None:
    subscriber = Subscriber(size=3)
    for n in range(1, 4):
        subscriber.offer(update(n))
    assert [(await subscriber.next()).stamp for _ in range(3)] == [1, 2, 3]  # kept up: nothing lost
    for n in range(4, 11):
        subscriber.offer(update(n))  # 7 updates, never read: the backlog is cut twice
    assert (await subscriber.next()).stamp == 10
    assert not subscriber._waiting
    assert subscriber.dropped == 6


def test_an_update_is_one_server_sent_event_with_a_data_line_per_line() -> None:
    frame = Update("update", '<p>a</p>\n<p class="b">b</p>\r\nc', 42).frame
    assert frame == b'id: 42\nevent: update\ndata: <p>a</p>\ndata: <p class="b">b</p>\ndata: c\n\n'
