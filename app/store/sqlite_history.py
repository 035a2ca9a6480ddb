"""One session's history in the SQLite file: the ``losses`` chunks, the ``kept`` rows and the
``envelope`` buckets, read through a pooled connection (:class:`HistoryReader`) or changed inside a
write transaction (:class:`HistoryWriter`, what :func:`app.history.apply` calls)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app import stored_state
from app.engine import Architecture
from app.envelope import Envelope, FloatArray, width_for
from app.history import Kept, Snapshot

#: Losses per row of the ``losses`` table (4 KB of float64).
CHUNK = 512

Query = Callable[[str, Sequence[Any]], list[Any]]


class HistoryReader:
    """Reading one session's history through ``query`` (a pooled connection, or a transaction's)."""

    def __init__(self, query: Query, session_id: str, arch: Architecture, count: int) -> None:
        self._query = query
        self.session_id = session_id
        self.arch = arch
        self._count = count

    def read_losses(self, start: int, stop: int) -> FloatArray:
        start, stop = max(0, start), min(stop, self._count)
        if start >= stop:
            return np.zeros(0)
        first, last = start // CHUNK, (stop - 1) // CHUNK
        rows = self._query(
            "SELECT data FROM losses WHERE sid = ? AND chunk BETWEEN ? AND ? ORDER BY chunk",
            (self.session_id, first, last),
        )
        values = np.frombuffer(b"".join(row[0] for row in rows), dtype="<f8").astype(np.float64)
        return values[start - first * CHUNK : stop - first * CHUNK]

    def read_kept(self) -> list[Kept]:
        rows = self._query("SELECT step, loss FROM kept WHERE sid = ? ORDER BY step", (self.session_id,))
        return [Kept(int(step), None if loss is None else float(loss)) for step, loss in rows]

    def read_snapshot(self, step: int) -> Snapshot | None:
        rows = self._query(
            "SELECT loss, sample_index, params, previous FROM kept WHERE sid = ? AND step = ?",
            (self.session_id, step),
        )
        if not rows:
            return None
        loss, index, params, previous = rows[0]
        return stored_state.snapshot_from_row(self.arch, step, loss, int(index), params, previous)

    def read_envelope(self, first: int = 0) -> Envelope:
        rows = self._query(
            "SELECT low, high, low_at, high_at FROM envelope WHERE sid = ? AND bucket >= ? ORDER BY bucket",
            (self.session_id, first),
        )
        table = np.array(rows, dtype=np.float64).reshape(-1, 4)
        return Envelope(
            self._count,
            width_for(self._count),
            first,
            table[:, 0].copy(),
            table[:, 1].copy(),
            table[:, 2].astype(np.int64),
            table[:, 3].astype(np.int64),
        )


class HistoryWriter(HistoryReader):
    """One session's history inside a write transaction: what :func:`app.history.apply` changes."""

    def __init__(self, db: sqlite3.Connection, session_id: str, arch: Architecture, count: int) -> None:
        super().__init__(lambda sql, args: db.execute(sql, args).fetchall(), session_id, arch, count)
        self._db = db
        # Buckets stored now: a write that leaves fewer (a cut, buckets merged) deletes the rest.
        self._buckets = -(-count // width_for(count))

    def _chunk(self, chunk: int) -> FloatArray:
        row = self._db.execute(
            "SELECT data FROM losses WHERE sid = ? AND chunk = ?", (self.session_id, chunk)
        ).fetchone()
        return np.zeros(0) if row is None else np.frombuffer(row[0], dtype="<f8").astype(np.float64)

    def truncate_losses(self, count: int) -> None:
        whole, rest = divmod(count, CHUNK)
        self._db.execute(
            "DELETE FROM losses WHERE sid = ? AND chunk >= ?", (self.session_id, whole + (1 if rest else 0))
        )
        if rest:
            kept = self._chunk(whole)[:rest]
            self._db.execute(
                "UPDATE losses SET data = ? WHERE sid = ? AND chunk = ?",
                (kept.astype("<f8").tobytes(), self.session_id, whole),
            )
        self._count = min(self._count, count)

    def append_losses(self, values: FloatArray) -> None:
        whole, rest = divmod(self._count, CHUNK)
        data = np.concatenate([self._chunk(whole)[:rest], values]) if rest else values
        self._db.executemany(
            "INSERT OR REPLACE INTO losses (sid, chunk, data) VALUES (?, ?, ?)",
            [
                (self.session_id, whole + k // CHUNK, data[k : k + CHUNK].astype("<f8").tobytes())
                for k in range(0, int(data.size), CHUNK)
            ],
        )
        self._count += int(values.size)

    def write_envelope(self, env: Envelope) -> None:
        last = env.first + env.buckets
        if last < self._buckets:
            self._db.execute("DELETE FROM envelope WHERE sid = ? AND bucket >= ?", (self.session_id, last))
        self._buckets = last
        self._db.executemany(
            "INSERT OR REPLACE INTO envelope (sid, bucket, low, high, low_at, high_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (self.session_id, env.first + b, lo, hi, lo_at, hi_at)
                for b, (lo, hi, lo_at, hi_at) in enumerate(
                    zip(
                        env.low.tolist(),
                        env.high.tolist(),
                        env.low_at.tolist(),
                        env.high_at.tolist(),
                        strict=True,
                    )
                )
            ],
        )

    def drop_kept(self, from_step: int | None, steps: frozenset[int]) -> None:
        if from_step is not None:
            self._db.execute("DELETE FROM kept WHERE sid = ? AND step >= ?", (self.session_id, from_step))
        self._db.executemany(
            "DELETE FROM kept WHERE sid = ? AND step = ?", [(self.session_id, step) for step in sorted(steps)]
        )

    def add_kept(self, snapshots: Sequence[Snapshot]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO kept (sid, step, loss, sample_index, params, previous)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    self.session_id,
                    snap.step,
                    snap.loss,
                    snap.sample_index,
                    stored_state.pack_params(snap.params),
                    None if snap.previous is None else stored_state.pack_params(snap.previous),
                )
                for snap in snapshots
            ],
        )
