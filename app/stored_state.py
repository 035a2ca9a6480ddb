"""The state document a store saves: a session without its history, a few KB whatever it holds.

The history (losses, kept states) lives in the store's own log (app/history.py); the state carries
its :class:`~app.history.Summary` so that loading a session reads nothing else. Float sequences
are base64 of little-endian float64: exact, and about ten times faster to write than JSON numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np

from app.codec import config_from_json, config_to_json, pack, unflatten, unpack
from app.datasets import BUILTIN, Dataset, make_dataset
from app.engine import Architecture, Parameters
from app.errors import NotASessionDocumentError
from app.history import History, HistorySource, Snapshot, Summary
from app.session import Origin, Progress, Reveal, Session, progress_of, replay

#: The state document a store saves (the history lives in the store's log).
STATE_FORMAT = "backprop-viz.state"
STATE_VERSION = 2


def _pack_params(params: Parameters) -> str:
    return pack(params.vector)


def _dataset_to_state(data: Dataset) -> dict[str, Any]:
    if data.name is not None and BUILTIN.get(data.name) is data:
        return {"name": data.name}
    return {
        "shape": [len(data), int(data.inputs.shape[1]), int(data.targets.shape[1])],
        "values": pack(np.concatenate([data.inputs.ravel(), data.targets.ravel()])),
    }


def _dataset_from_state(value: Mapping[str, Any]) -> Dataset:
    name = value.get("name")
    if name is not None:
        return BUILTIN[str(name)]
    n, inputs, targets = (int(v) for v in value["shape"])
    values = unpack(value["values"])
    if values.size != n * (inputs + targets):
        raise NotASessionDocumentError("dataset: the packed values do not match its shape")
    return make_dataset(
        values[: n * inputs].reshape(n, inputs).tolist(),
        values[n * inputs :].reshape(n, targets).tolist(),
        name=None,
    )


def state_to_json(session: Session, summary: Summary) -> dict[str, Any]:
    """The session without its history (``summary`` says what its stored history holds)."""
    progress = progress_of(session)
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "config": config_to_json(session.config),
        "params": _pack_params(session.params),
        "previous": None if session.previous is None else _pack_params(session.previous),
        "dataset": _dataset_to_state(session.data),
        "sample_index": session.sample_index,
        "phase": session.phase,
        "substep_mode": session.substep_mode,
        "progress": [progress.forward_layers, progress.backward_layers],
        "step": session.step,
        "recent_losses": pack(session.recent_losses),
        "history": [summary.losses, summary.kept, summary.first_kept, summary.last_kept],
        "reveal": None if session.reveal is None else _reveal_to_json(session.reveal),
        "origin": {
            "config": config_to_json(session.origin.config),
            "params": _pack_params(session.origin.params),
            "dataset": _dataset_to_state(session.origin.data),
        },
    }


def state_from_json(document: Mapping[str, Any], session_id: str, source: HistorySource) -> Session:
    """A stored session, its history read through ``source``; NotASessionDocumentError if it is not one."""
    try:
        if document.get("format") != STATE_FORMAT or document.get("version") != STATE_VERSION:
            raise NotASessionDocumentError("not a stored session state")
        config = config_from_json(document["config"])
        arch = config.arch
        origin_json = document["origin"]
        origin = Origin(
            config_from_json(origin_json["config"]),
            unflatten(arch, unpack(origin_json["params"])),
            _dataset_from_state(origin_json["dataset"]),
        )
        previous = document["previous"]
        forward_layers, backward_layers = (int(v) for v in document["progress"])
        losses, kept, first_kept, last_kept = (int(v) for v in document["history"])
        session = Session(
            id=session_id,
            config=config,
            params=unflatten(arch, unpack(document["params"])),
            data=_dataset_from_state(document["dataset"]),
            origin=origin,
            sample_index=int(document["sample_index"]),
            phase=cast(Any, document["phase"]),
            previous=None if previous is None else unflatten(arch, unpack(previous)),
            step=int(document["step"]),
            history=History(source, Summary(losses, kept, first_kept, last_kept)),
            recent_losses=tuple(unpack(document["recent_losses"]).tolist()),
            substep_mode=bool(document["substep_mode"]),
            reveal=_reveal_from_json(document.get("reveal")),
        )
    except NotASessionDocumentError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise NotASessionDocumentError(f"not a valid stored session state: {exc}") from exc
    return replay(session, Progress(forward_layers, backward_layers))


def pack_params(params: Parameters) -> bytes:
    """Parameters as raw little-endian float64 (the kept states in a store's log)."""
    return np.asarray(params.vector, dtype="<f8").tobytes()


def unpack_params(arch: Architecture, raw: bytes) -> Parameters:
    return unflatten(arch, np.frombuffer(raw, dtype="<f8").astype(np.float64))


def snapshot_from_row(
    arch: Architecture,
    step: int,
    loss: float | None,
    sample_index: int,
    params: bytes,
    previous: bytes | None,
) -> Snapshot:
    return Snapshot(
        step,
        loss,
        unpack_params(arch, params),
        None if previous is None else unpack_params(arch, previous),
        sample_index,
    )


def _reveal_to_json(reveal: Reveal) -> list[Any]:
    return [*reveal.at, sorted(reveal.keys), reveal.everything]


def _reveal_from_json(value: Any) -> Reveal | None:
    if value is None:
        return None
    step, phase, forward_layers, backward_layers, keys, everything = value
    at = (int(step), str(phase), int(forward_layers), int(backward_layers))
    return Reveal(at, frozenset(str(k) for k in keys), bool(everything))
