"""What grows as a session trains: the loss of every update and the kept states for undo.

A session's *state* (parameters, sample, phase) has the size of its network; its *history* grows with
every update. The two are stored apart, so that a step costs what the network costs. A store keeps
the history as an append-only log and hands a loaded session a :class:`History`: a read-only view of
that log (a :class:`HistorySource`) plus whatever the session's functions have changed since. When
the store saves the session it applies those changes (:class:`Pending`) with :func:`apply`, the
one algorithm every backend shares.

A session changes its history in few ways: it records an update (dropping whatever a restore had
left beyond it), starts again (reset), or starts a new branch (an edit of the parameters). Kept
states are thinned as they are recorded, so at most :data:`MAX_KEPT` remain: the first, the newest
half, and every other one of the older ones.

The losses are also summarised as a min–max envelope (app/envelope.py), updated as they are
appended, so the loss curve is drawn without reading every loss.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from app.engine import Parameters
from app.envelope import (
    Envelope,
    FloatArray,
    canonical,
    envelope_of,
    extend,
    merge_buckets,
    summarise,
    width_for,
)
from app.limits import MAX_HISTORY

#: Most states kept for undo and the timeline; older ones are thinned out.
MAX_KEPT = MAX_HISTORY
#: The newest kept states are never thinned.
KEEP_RECENT = MAX_KEPT // 2


def _empty_floats() -> FloatArray:
    return np.zeros(0)


@dataclass(frozen=True)
class Snapshot:
    """A kept state for undo and the timeline: the parameters right after an update."""

    step: int
    #: Loss of the forward pass behind this update (None for a starting state).
    loss: float | None
    params: Parameters
    #: Parameters before this update, so its traces can be replayed (None: show it idle).
    previous: Parameters | None
    sample_index: int


@dataclass(frozen=True)
class Kept:
    """A kept state without its parameters: what the timeline and the history list show."""

    step: int
    loss: float | None


# --------------------------------------------------------------------------------------------
# Thinning
# --------------------------------------------------------------------------------------------


def thin(steps: list[int]) -> list[int]:
    """Keep the first state and the newest half; drop every other state in between."""
    middle = steps[1 : len(steps) - KEEP_RECENT]
    return [*steps[:1], *middle[1::2], *steps[len(steps) - KEEP_RECENT :]]


# --------------------------------------------------------------------------------------------
# The stored log
# --------------------------------------------------------------------------------------------


class HistorySource(Protocol):
    """Read access to a stored history (what a store hands a session it loads)."""

    def read_losses(self, start: int, stop: int) -> FloatArray:
        """Stored losses [start, stop)."""

    def read_kept(self) -> list[Kept]:
        """Every stored kept state, ascending by step (no parameters)."""

    def read_snapshot(self, step: int) -> Snapshot | None:
        """The stored kept state of ``step``, or None."""

    def read_envelope(self, first: int = 0) -> Envelope:
        """The stored envelope, from bucket ``first`` on (a slice when ``first`` > 0)."""


class HistoryLog(HistorySource, Protocol):
    """A stored history that can be changed: what :func:`apply` needs of a backend."""

    def truncate_losses(self, count: int) -> None:
        """Keep the first ``count`` losses."""

    def append_losses(self, values: FloatArray) -> None: ...

    def write_envelope(self, env: Envelope) -> None:
        """Replace the stored buckets from ``env.first`` on by those of ``env``."""

    def drop_kept(self, from_step: int | None, steps: frozenset[int]) -> None:
        """Drop the kept states from step ``from_step`` on (None: none) and those in ``steps``."""

    def add_kept(self, snapshots: Sequence[Snapshot]) -> None:
        """Keep these states (each later than every one kept)."""


class _Empty:
    """The history of a session that has never been stored."""

    def read_losses(self, start: int, stop: int) -> FloatArray:
        return np.zeros(0)

    def read_kept(self) -> list[Kept]:
        return []

    def read_snapshot(self, step: int) -> Snapshot | None:
        return None

    def read_envelope(self, first: int = 0) -> Envelope:
        return Envelope(0, 1, first)


EMPTY: HistorySource = _Empty()


@dataclass(frozen=True)
class Summary:
    """How much a stored history holds: saved with the session's state, so that loading a session
    and recording an update never read the history itself."""

    losses: int = 0
    kept: int = 0
    #: The steps of the first and the latest kept state (-1 when none is kept).
    first_kept: int = -1
    last_kept: int = -1


@dataclass(frozen=True)
class Pending:
    """A session's changes to its stored history, applied in this order: keep the first
    ``keep_losses`` losses; drop the kept states from step ``keep_kept_below`` on and those in
    ``thinned``; append ``losses`` and keep ``kept``."""

    keep_losses: int
    losses: FloatArray
    keep_kept_below: int | None
    thinned: frozenset[int]
    kept: tuple[Snapshot, ...]


def apply(pending: Pending, log: HistoryLog, before: Summary) -> None:
    """Store a session's changes in its log, the envelope included (every backend's save)."""
    count = before.losses
    if pending.keep_losses < count:
        count = pending.keep_losses
        log.truncate_losses(count)
        width = width_for(count)
        if width == width_for(before.losses):
            # Only the bucket the cut falls in changes: summarise its remaining losses again.
            start = count // width * width
            log.write_envelope(summarise(log.read_losses(start, count), start, width))
        else:
            log.write_envelope(envelope_of(log.read_losses(0, count)))
    if pending.losses.size:
        width = width_for(count)
        # The envelope's last bucket takes in the first new losses; when the bucket width has
        # to double (the count doubled since it last did), every bucket is merged again.
        wider = width_for(count + int(pending.losses.size)) != width
        # Bucket count // width is the partly filled one, or the first new one.
        tail = log.read_envelope(0 if wider else count // width)
        log.append_losses(pending.losses)
        grown = extend(tail, pending.losses)
        log.write_envelope(canonical(grown) if wider else grown)
    if pending.keep_kept_below is not None or pending.thinned:
        log.drop_kept(pending.keep_kept_below, pending.thinned)
    if pending.kept:
        log.add_kept(pending.kept)


# --------------------------------------------------------------------------------------------
# A session's view of its history
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class History:
    """A session's losses and kept states: the stored log plus this session's changes to it."""

    source: HistorySource = EMPTY
    stored: Summary = Summary()
    #: The changes, in the form of :class:`Pending` (None / empty: nothing changed).
    keep_losses: int | None = None
    new_losses: FloatArray = field(default_factory=_empty_floats)
    keep_kept_below: int | None = None
    thinned: frozenset[int] = frozenset()
    new_kept: tuple[Snapshot, ...] = ()

    # ----------------------------------------------------------------------------------------
    # Reading
    # ----------------------------------------------------------------------------------------

    @property
    def _stored_losses(self) -> int:
        return self.stored.losses if self.keep_losses is None else self.keep_losses

    @property
    def _kept_unchanged(self) -> bool:
        return self.keep_kept_below is None and not self.thinned

    @property
    def loss_count(self) -> int:
        """How many losses are recorded (may run past the session's step after a restore)."""
        return self._stored_losses + int(self.new_losses.size)

    def losses(self, start: int = 0, stop: int | None = None) -> FloatArray:
        """Recorded losses [start, stop): ``losses[k]`` is the loss behind update k + 1."""
        stop = self.loss_count if stop is None else min(stop, self.loss_count)
        start = max(0, start)
        if start >= stop:
            return np.zeros(0)
        stored = self._stored_losses
        parts: list[FloatArray] = []
        if start < stored:
            parts.append(self.source.read_losses(start, min(stop, stored)))
        if stop > stored:
            parts.append(self.new_losses[max(start - stored, 0) : stop - stored])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _stored_kept(self) -> list[Kept]:
        below = self.keep_kept_below
        return [
            k
            for k in self.source.read_kept()
            if (below is None or k.step < below) and k.step not in self.thinned
        ]

    def kept(self) -> list[Kept]:
        """Every kept state, ascending by step (without parameters, so cheap to list)."""
        return [*self._stored_kept(), *(Kept(s.step, s.loss) for s in self.new_kept)]

    @property
    def kept_count(self) -> int:
        if self._kept_unchanged:
            return self.stored.kept + len(self.new_kept)
        return len(self.kept())

    @property
    def last_kept(self) -> int:
        """The step of the latest kept state (-1 when none is)."""
        if self.new_kept:
            return self.new_kept[-1].step
        if self._kept_unchanged:
            return self.stored.last_kept
        kept = self._stored_kept()
        return kept[-1].step if kept else -1

    @property
    def first_kept(self) -> int:
        """The step of the first kept state (-1 when none is); thinning always keeps it."""
        if self._kept_unchanged and self.stored.kept:
            return self.stored.first_kept
        if self._kept_unchanged:
            return self.new_kept[0].step if self.new_kept else -1
        kept = self.kept()
        return kept[0].step if kept else -1

    def summary(self) -> Summary:
        """What the log holds once the changes are applied."""
        return Summary(self.loss_count, self.kept_count, self.first_kept, self.last_kept)

    def snapshot(self, step: int) -> Snapshot | None:
        """The kept state of ``step``, or None when it is not (or no longer) kept."""
        for snap in self.new_kept:
            if snap.step == step:
                return snap
        if (self.keep_kept_below is not None and step >= self.keep_kept_below) or step in self.thinned:
            return None
        return self.source.read_snapshot(step)

    def latest_before(self, step: int) -> Snapshot | None:
        """The latest kept state before ``step`` (what undo goes back to)."""
        kept = self.kept()
        at = bisect.bisect_left([k.step for k in kept], step)
        return self.snapshot(kept[at - 1].step) if at > 0 else None

    def snapshots(self) -> tuple[Snapshot, ...]:
        """Every kept state with its parameters (reads them all: for export)."""
        found = [self.snapshot(k.step) for k in self.kept()]
        return tuple(s for s in found if s is not None)

    def envelope(self, stop: int | None = None) -> Envelope:
        """The canonical min–max envelope of losses [0, stop)."""
        stop = self.loss_count if stop is None else max(0, min(stop, self.loss_count))
        if self.keep_losses is None and self.new_losses.size == 0:
            stored = self.source.read_envelope()
            if stop == stored.count:
                return stored
            width = width_for(stop)
            if width >= stored.width:
                # Whole stored buckets merge into wider ones; only the last is summarised again.
                merged = merge_buckets(stored, width // stored.width)
                whole = stop // width
                return extend(merged.head(whole), self.losses(whole * width, stop))
        return envelope_of(self.losses(0, stop))

    # ----------------------------------------------------------------------------------------
    # Changing
    # ----------------------------------------------------------------------------------------

    @property
    def pending(self) -> Pending | None:
        """The changes to store, or None when there are none."""
        if (
            self.keep_losses is None
            and self.new_losses.size == 0
            and self._kept_unchanged
            and not self.new_kept
        ):
            return None
        return Pending(
            keep_losses=self._stored_losses,
            losses=self.new_losses,
            keep_kept_below=self.keep_kept_below,
            thinned=self.thinned,
            kept=self.new_kept,
        )

    def saved(self, source: HistorySource, summary: Summary) -> History:
        """This history once its changes are stored in ``source`` (``summary``: taken before)."""
        return History(source, summary)

    def writer(self) -> Writer:
        return Writer(self)

    def restarted(self, first: Snapshot) -> History:
        """Everything dropped; ``first`` the only kept state (a reset)."""
        return replace(
            self,
            keep_losses=0,
            new_losses=np.zeros(0),
            keep_kept_below=-1 if self.stored.kept else None,
            thinned=frozenset(),
            new_kept=(first,),
        )


class Writer:
    """Builds the next :class:`History` from many recorded updates without copying per update.

    Reads nothing from the stored log unless something stored must go: a restore's future (when
    an update is recorded before the last recorded one) or a thinning (every MAX_KEPT/4 updates).
    """

    def __init__(self, history: History) -> None:
        self._base = history
        self._keep_losses = history.keep_losses
        self._loss_parts: list[FloatArray] = [history.new_losses]
        self._new_loss_count = int(history.new_losses.size)
        self._keep_kept_below = history.keep_kept_below
        self._thinned = set(history.thinned)
        self._new_kept: list[Snapshot] = list(history.new_kept)
        self._count = history.kept_count
        self._last_kept = history.last_kept
        # Steps of every kept state, stored and new, loaded only when thinning needs them; and
        # which of them are stored (only those are marked as thinned).
        self._steps: list[int] | None = None
        self._stored_steps: set[int] = set()

    @property
    def _stored_loss_count(self) -> int:
        return self._base.stored.losses if self._keep_losses is None else self._keep_losses

    @property
    def loss_count(self) -> int:
        return self._stored_loss_count + self._new_loss_count

    def _load_steps(self) -> list[int]:
        if self._steps is None:
            below = self._keep_kept_below
            stored = [
                k.step
                for k in self._base.source.read_kept()
                if (below is None or k.step < below) and k.step not in self._thinned
            ]
            self._stored_steps = set(stored)
            self._steps = [*stored, *(s.step for s in self._new_kept)]
            self._count = len(self._steps)
        return self._steps

    def truncate(self, *, losses: int, kept_below: int) -> None:
        """Drop the losses from index ``losses`` on and the kept states from step ``kept_below`` on."""
        if losses < self.loss_count:
            stored = self._stored_loss_count
            if losses <= stored:
                self._keep_losses = losses
                self._loss_parts, self._new_loss_count = [], 0
            else:
                joined = np.concatenate(self._loss_parts)
                self._loss_parts, self._new_loss_count = [joined[: losses - stored]], losses - stored
        if self._last_kept < kept_below:
            return
        self._new_kept = [s for s in self._new_kept if s.step < kept_below]
        if self._keep_kept_below is None or kept_below < self._keep_kept_below:
            self._keep_kept_below = kept_below
        self._steps = None
        steps = self._load_steps()
        self._last_kept = steps[-1] if steps else -1

    def add_losses(self, values: Iterable[float] | FloatArray) -> None:
        array = np.asarray(values, dtype=np.float64).ravel()
        if array.size:
            self._loss_parts.append(array)
            self._new_loss_count += int(array.size)

    def keep(self, snapshot: Snapshot, *, thinning: bool = True) -> None:
        """Keep a state (later than every kept one), thinning the older ones beyond MAX_KEPT
        (``thinning`` False: not this time — the first state of a new branch)."""
        self._new_kept.append(snapshot)
        if self._steps is not None:
            self._steps.append(snapshot.step)
        self._count_one(snapshot.step, thinning)

    def skip(self, step: int) -> None:
        """Count a state that thinning is known to drop (see :meth:`will_keep`) without building it."""
        if self._steps is None:
            raise RuntimeError("skip() needs the kept steps that will_keep() loads")
        self._steps.append(step)
        self._count_one(step, True)

    def _count_one(self, step: int, thinning: bool) -> None:
        self._count += 1
        self._last_kept = step
        if thinning and self._count > MAX_KEPT:
            steps = self._load_steps()
            survivors = thin(steps)
            dropped = set(steps).difference(survivors)
            self._thinned |= dropped & self._stored_steps
            self._stored_steps -= dropped
            if dropped:
                self._new_kept = [s for s in self._new_kept if s.step not in dropped]
            self._steps = survivors
            self._count = len(survivors)

    def will_keep(self, first_step: int, count: int) -> set[int]:
        """Which of the steps first_step … first_step+count−1, kept in turn, survive thinning (it
        depends on the step numbers alone), so a long training builds only those snapshots."""
        if self._count + count <= MAX_KEPT:
            return set(range(first_step, first_step + count))
        steps = list(self._load_steps())
        for step in range(first_step, first_step + count):
            steps.append(step)
            if len(steps) > MAX_KEPT:
                steps = thin(steps)
        return {s for s in steps if s >= first_step}

    def result(self) -> History:
        parts = [p for p in self._loss_parts if p.size]
        losses = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros(0)
        return replace(
            self._base,
            keep_losses=self._keep_losses,
            new_losses=losses,
            keep_kept_below=self._keep_kept_below,
            thinned=frozenset(self._thinned),
            new_kept=tuple(self._new_kept),
        )


def history_of(losses: Sequence[float] | FloatArray, kept: Sequence[Snapshot]) -> History:
    """A never-stored history holding exactly these losses and kept states (an import)."""
    return History(new_losses=np.asarray(losses, dtype=np.float64).ravel(), new_kept=tuple(kept))


def to_save(history: History, log: HistorySource) -> tuple[Pending | None, Summary, Summary]:
    """What saving ``history`` into ``log`` takes: the changes to apply, the summary of what the
    log holds before, and after. A history read from another log is copied whole."""
    if history.source is not log and history.source is not EMPTY:
        history = history_of(history.losses(), history.snapshots())
    before = history.stored if history.source is log else Summary()
    return history.pending, before, history.summary()
