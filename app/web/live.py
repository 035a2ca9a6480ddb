"""The fan-out of live updates to followers: one hub per server process.

A follower's connection subscribes to a session. For each session with at least one subscriber in
this process the hub runs one *watcher* task that asks the store for the session's stamp (a number
that changes whenever the session does, cheap to read on every backend) every ``interval`` seconds;
when the stamp changes it renders the update once and hands that same text to every subscriber here.
The store is the only channel between processes, so a step taken through any worker or host reaches
the followers connected to every other (memory: one process; SQLite: its workers; Redis: any host).

Each subscriber holds a small bounded queue. Every update stands on its own (it carries the whole
view, not a change to apply), so a subscriber that cannot keep up loses nothing that matters when
its backlog is dropped for the latest update only. When the last subscriber of a session leaves,
its watcher stops at its next tick; nothing is kept for a session nobody follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio

from app.errors import SessionNotFoundError

#: How often a watcher asks the store whether its session changed, in seconds.
INTERVAL = 0.2
#: Updates a subscriber may have waiting before its backlog is dropped for the latest one.
QUEUE_SIZE = 4

_log = logging.getLogger(__name__)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Update:
    """What a watcher hands its subscribers: an event name and its text."""

    #: "update" (the view as it is now) or "gone" (the session no longer exists: the last event).
    event: str
    data: str
    #: The stamp the update was rendered at (the SSE event's id).
    stamp: int

    @functools.cached_property
    def frame(self) -> bytes:
        """The update as one server-sent event, encoded once however many followers get it."""
        lines = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(self.data))
        return f"id: {self.stamp}\nevent: {self.event}\n{lines}\n".encode()


class Subscriber:
    """One follower's connection: the updates waiting for it."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._size = size
        self._waiting: deque[Update] = deque()
        self._ready = asyncio.Event()
        #: Updates dropped because this subscriber fell behind.
        self.dropped = 0

    def offer(self, update: Update) -> None:
        if len(self._waiting) >= self._size:
            self.dropped += len(self._waiting)
            self._waiting.clear()
        self._waiting.append(update)
        self._ready.set()

    async def next(self) -> Update:
        while not self._waiting:
            self._ready.clear()
            await self._ready.wait()
        return self._waiting.popleft()


class _Watch:
    """The subscribers of one session in this process, and the latest update they were handed."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.latest: Update | None = None
        self.task: asyncio.Task[None] | None = None


class Hub:
    """Every followed session of this process. ``stamp(session_id)`` is the store's stamp (raises
    SessionNotFoundError when the session is gone); ``render(session_id)`` the update's text. Both
    block (they ask the store), so they run in worker threads."""

    def __init__(
        self,
        stamp: Callable[[str], int],
        render: Callable[[str], str],
        *,
        interval: float = INTERVAL,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._stamp = stamp
        self._render = render
        self.interval = interval
        self.queue_size = queue_size
        self._watches: dict[str, _Watch] = {}
        #: Renders done so far (one per change of a followed session, whatever the followers).
        self.renders = 0

    def subscriber_count(self, session_id: str | None = None) -> int:
        """Followers connected to this process (of one session, or all)."""
        if session_id is not None:
            watch = self._watches.get(session_id)
            return 0 if watch is None else len(watch.subscribers)
        return sum(len(watch.subscribers) for watch in self._watches.values())

    def watcher_count(self) -> int:
        """Watcher tasks running (one per followed session)."""
        return sum(1 for watch in self._watches.values() if watch.task is not None and not watch.task.done())

    @contextlib.asynccontextmanager
    async def subscribe(self, session_id: str) -> AsyncIterator[Subscriber]:
        """A subscriber to ``session_id`` while the block runs: it is handed the latest update at
        once (if there is one yet), then every later one."""
        subscriber = Subscriber(self.queue_size)
        watch = self._watches.get(session_id)
        if watch is None:
            watch = self._watches[session_id] = _Watch()
        watch.subscribers.add(subscriber)
        if watch.latest is not None:
            subscriber.offer(watch.latest)
        if watch.task is None or watch.task.done():
            watch.task = asyncio.create_task(self._watch(session_id, watch), name=f"follow-watch {id(watch)}")
        try:
            yield subscriber
        finally:
            watch.subscribers.discard(subscriber)
            if not watch.subscribers and self._watches.get(session_id) is watch:
                # Its watcher sees it has nobody left and stops at its next tick.
                del self._watches[session_id]

    async def _watch(self, session_id: str, watch: _Watch) -> None:
        seen: int | None = None
        failing = False
        while watch.subscribers:
            try:
                stamp = await anyio.to_thread.run_sync(self._stamp, session_id)
                if stamp != seen:
                    data = await anyio.to_thread.run_sync(self._render, session_id)
                    self.renders += 1
                    seen = stamp
                    self._publish(watch, Update("update", data, stamp))
                failing = False
            except SessionNotFoundError:
                self._publish(watch, Update("gone", "", -1 if seen is None else seen))
                return
            except Exception:  # the store failing for a while: the followers wait, the watcher goes on
                if not failing:  # said once, not at every tick while it lasts
                    _log.exception("following a session: the store cannot be read; trying again")
                failing = True
            await asyncio.sleep(self.interval)

    def _publish(self, watch: _Watch, update: Update) -> None:
        watch.latest = update
        for subscriber in watch.subscribers:
            subscriber.offer(update)

    async def close(self) -> None:
        """Stop every watcher (the server is shutting down)."""
        tasks = [watch.task for watch in self._watches.values() if watch.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watches.clear()
