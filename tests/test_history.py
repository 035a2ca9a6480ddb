"""The history log (app/history.py): the envelope kept through appends and cuts, thinning, and the
stored history against a reference model of what the steps produce (the list-based semantics of
before)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from app import codec, engine
from app.envelope import envelope_of
from app.history import MAX_KEPT, Summary, apply, history_of, thin
from app.session import (
    Session,
    create,
    edit,
    reset,
    restore,
    run_step,
    run_substep,
    train,
    undo,
)
from app.store import MemoryStore, RedisStore, SessionStore, SqliteStore
from app.store.memory import MemoryLog
from tests.test_envelope import noisy
from tests.test_session import assert_sessions_equal


def test_the_stored_envelope_follows_appends_and_truncations() -> None:
    """Random appends and cuts through apply(): the log's envelope is always that of its losses."""
    rng = random.Random(7)
    log = MemoryLog()
    losses = np.zeros(0)
    for _ in range(120):
        before = Summary(losses=int(losses.size))
        keep = int(losses.size)
        if losses.size and rng.random() < 0.3:
            keep = rng.randrange(0, int(losses.size) + 1)
        new = noisy(rng.choice([1, 1, 2, 7, 300, 2500]), seed=rng.randrange(1000))
        pending = history_of(new, ()).pending
        assert pending is not None
        apply(
            type(pending)(keep, new, None, frozenset(), ()),
            log,
            before,
        )
        losses = np.concatenate([losses[:keep], new])
        assert log.read_envelope().same_as(envelope_of(losses))
        assert np.array_equal(log.read_losses(0, int(losses.size)), losses)


# --------------------------------------------------------------------------------------------
# Thinning
# --------------------------------------------------------------------------------------------


def test_thinning_keeps_the_first_and_the_newest_half() -> None:
    steps = list(range(MAX_KEPT + 1))
    kept = thin(steps)
    assert kept[0] == 0
    assert kept[-500:] == steps[-500:]
    assert kept[1:-500] == steps[2:-500:2]
    assert len(kept) == 751


# --------------------------------------------------------------------------------------------
# A session's history through every store, against a reference model
# --------------------------------------------------------------------------------------------


@dataclass
class Reference:
    """The history semantics as they were written before the history moved out of the state:
    a list of kept steps and a list of losses, thinned as updates are recorded."""

    kept: list[int] = field(default_factory=lambda: [0])
    losses: int = 0
    step: int = 0

    def record(self, count: int) -> None:
        for _ in range(count):
            self.step += 1
            while self.kept and self.kept[-1] >= self.step:
                self.kept.pop()
            self.losses = self.step
            self.kept.append(self.step)
            if len(self.kept) > MAX_KEPT:
                self.kept = thin(self.kept)

    def branch(self) -> None:
        self.kept = [k for k in self.kept if k < self.step] + [self.step]
        self.losses = self.step


Change = Callable[[Session], Session]


class Paths:
    """One session several ways: never stored, and in each of some stores."""

    def __init__(self, session: Session, stores: list[SessionStore]) -> None:
        self.free = session
        self.stores = stores
        for store in stores:
            store.add(session)

    def apply(self, change: Change) -> tuple[Session, ...]:
        self.free = change(self.free)
        return (self.free, *(store.update(self.free.id, change) for store in self.stores))

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture(params=["memory+sqlite", "redis"])
def paths(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Paths]:
    stores: list[SessionStore] = (
        [MemoryStore(ttl=1e9, max_sessions=10), SqliteStore(tmp_path / "h.sqlite3", ttl=1e9, max_sessions=10)]
        if request.param == "memory+sqlite"
        else [RedisStore(request.getfixturevalue("redis_url"), ttl=1e9, max_sessions=10)]
    )
    made = Paths(create("h", layers=[2, 3, 1], seed=11, dataset="xor"), stores)
    yield made
    made.close()


def check(sessions: tuple[Session, ...], ref: Reference) -> None:
    free, *stored = sessions
    for s in sessions:
        assert s.step == ref.step
        assert [k.step for k in s.history.kept()] == ref.kept
        assert s.history.loss_count == ref.losses
        assert s.can_undo == any(k < ref.step for k in ref.kept)
    for other in stored:
        assert_sessions_equal(other, free)
        assert other.history.envelope().same_as(free.history.envelope())
        assert other.history.envelope(ref.step).same_as(envelope_of(free.history.losses(0, ref.step)))
        assert other.history.summary() == free.history.summary()


def test_every_loss_kept_belongs_to_its_update(paths: Paths) -> None:
    """The oracle for the loss values: each kept update's loss is the loss of a forward pass with
    its previous parameters on its sample, recomputed here by the engine."""
    stored = paths.apply(lambda s: train(s, 300))[-1]
    for snap in stored.history.snapshots()[1:]:
        assert snap.previous is not None and snap.loss is not None
        data = stored.data
        trace = engine.forward(
            stored.arch,
            snap.previous,
            data.inputs[snap.sample_index : snap.sample_index + 1],
            data.targets[snap.sample_index : snap.sample_index + 1],
        )
        assert trace.loss == snap.loss
        assert stored.history.losses(snap.step - 1, snap.step)[0] == snap.loss


@pytest.mark.parametrize("seed", range(4))
def test_random_walks_agree_with_the_reference_on_every_path(paths: Paths, seed: int) -> None:
    rng = random.Random(seed)
    ref = Reference()
    thinned = False
    for turn in range(40):
        # The walk starts past MAX_KEPT updates, so thinning is part of it from the start.
        kind = rng.choice(["step", "step", "train", "undo", "restore", "edit", "weights", "reset", "sub"])
        kind = "train" if turn == 0 else kind
        current = paths.free
        if kind == "step":
            sessions = paths.apply(run_step)
            ref.record(1)
        elif kind == "train":
            epochs = 300 if turn == 0 else rng.choice([1, 3, 40, 300])
            sessions = paths.apply(partial(train, epochs=epochs))
            ref.record(epochs * len(current.data))
        elif kind == "undo":
            if not current.can_undo:
                continue
            sessions = paths.apply(undo)
            ref.step = max(k for k in ref.kept if k < ref.step)
        elif kind == "restore":
            target = rng.choice(ref.kept)
            sessions = paths.apply(partial(restore, step=target))
            ref.step = target
        elif kind == "edit":
            rate = rng.choice([0.1, 0.5, 2.0])
            sessions = paths.apply(partial(edit, learning_rate=rate))
        elif kind == "weights":
            weights = [(w * 0.5).tolist() for w in current.params.weights]
            sessions = paths.apply(partial(edit, weights=weights))
            ref.branch()
        elif kind == "reset":
            sessions = paths.apply(reset)
            ref = Reference()
        else:
            sessions = paths.apply(run_substep)
            if sessions[0].phase == "updated" and current.phase != "updated":
                ref.record(1)
        check(sessions, ref)
        thinned = thinned or ref.kept[-1] - ref.kept[0] + 1 > len(ref.kept)
    assert thinned, "the walk should have gone past MAX_KEPT updates and thinned"
    # Export from every path is the same document, and importing it gives the session back.
    documents = [codec.to_document(s) for s in (paths.free, *(store.get("h") for store in paths.stores))]
    assert all(document == documents[0] for document in documents)
    back = codec.from_document(documents[-1], "h")
    assert_sessions_equal(back, paths.free)
