"""Sessions as JSON documents: the export/import format, and the state document a store saves.

An export holds everything that cannot be recomputed, the history included; traces are rebuilt by
``session.replay``. A store saves the *state* alone (:func:`state_to_json`, a few KB whatever the
history holds) and keeps the history in its own append-only log (see app/history.py). In stored
documents float sequences are base64 of little-endian float64: exact, and about ten times faster to
write than JSON numbers. Version 1 documents (exports, and what stores saved before the history
moved out) are still read.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from app import engine
from app.datasets import BUILTIN, Dataset, make_dataset
from app.engine import Architecture, Parameters
from app.errors import InvalidInputError, NotASessionDocumentError
from app.history import History, HistorySource, Snapshot, Summary, history_of
from app.limits import MAX_HISTORY, MAX_LOSS_HISTORY, MAX_SEED, RECENT_LOSSES
from app.session import (
    PHASES,
    Config,
    Origin,
    Progress,
    Session,
    progress_of,
    replay,
)

FORMAT = "backprop-viz.session"
VERSION = 1
#: The state document a store saves (the history lives in the store's log).
STATE_FORMAT = "backprop-viz.state"
STATE_VERSION = 2


def _pack(values: Sequence[float] | np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 8:
        raise NotASessionDocumentError("a packed float array has a length that is not a multiple of 8 bytes")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def _floats(value: Any, compact: bool) -> Any:
    return _pack(value) if compact else [float(v) for v in value]


def _read_floats(value: Any) -> list[float]:
    if isinstance(value, str):
        return [float(v) for v in _unpack(value)]
    return [float(v) for v in value]


def params_to_json(params: Parameters) -> dict[str, Any]:
    return {"weights": [w.tolist() for w in params.weights], "biases": [b.tolist() for b in params.biases]}


def params_from_json(arch: Architecture, value: Mapping[str, Any]) -> Parameters:
    return engine.make_parameters(arch, value["weights"], value["biases"])


def flatten(params: Parameters) -> np.ndarray:
    return np.concatenate([w.ravel() for w in params.weights] + [b.ravel() for b in params.biases])


def parameter_count(arch: Architecture) -> int:
    return sum(arch.layers[l] * arch.layers[l + 1] + arch.layers[l + 1] for l in range(arch.depth))


def unflatten(arch: Architecture, vector: np.ndarray) -> Parameters:
    if vector.size != parameter_count(arch):
        raise NotASessionDocumentError(
            f"expected {parameter_count(arch)} packed parameters, got {vector.size}"
        )
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    offset = 0
    for l in range(arch.depth):
        rows, cols = arch.layers[l], arch.layers[l + 1]
        weights.append(vector[offset : offset + rows * cols].reshape(rows, cols).copy())
        offset += rows * cols
    for l in range(arch.depth):
        cols = arch.layers[l + 1]
        biases.append(vector[offset : offset + cols].copy())
        offset += cols
    params = Parameters(tuple(weights), tuple(biases))
    for l in range(arch.depth):
        engine.check_finite(f"weights[{l}]", params.weights[l])
        engine.check_finite(f"biases[{l}]", params.biases[l])
    return params


def config_to_json(config: Config) -> dict[str, Any]:
    arch = config.arch
    return {
        "layers": list(arch.layers),
        "activation": arch.activation,
        "output_activation": arch.output_activation,
        "loss": arch.loss,
        "learning_rate": config.learning_rate,
        "train_biases": config.train_biases,
        "seed": config.seed,
        "mode": config.mode,
    }


def config_from_json(value: Mapping[str, Any]) -> Config:
    arch = Architecture(
        tuple(int(n) for n in value["layers"]),
        str(value["activation"]),
        str(value["output_activation"]),
        str(value["loss"]),
    )
    seed = int(value["seed"])
    if not 0 <= seed <= MAX_SEED:
        raise NotASessionDocumentError(f"seed: must lie in 0..{MAX_SEED}, got {seed}")
    return Config(
        arch,
        float(value["learning_rate"]),
        bool(value["train_biases"]),
        seed,
        value["mode"],
    )


def dataset_from_json(value: Mapping[str, Any]) -> Dataset:
    """The dataset, named only if it is exactly that built-in (a document cannot relabel data)."""
    name = value.get("name")
    data = make_dataset(value["inputs"], value["targets"], name=None)
    known = BUILTIN.get(str(name)) if name is not None else None
    if (
        known is not None
        and np.array_equal(known.inputs, data.inputs)
        and np.array_equal(known.targets, data.targets)
    ):
        return known
    return data


def _history_to_json(history: Sequence[Snapshot], compact: bool) -> Any:
    if not compact:
        return [
            {
                "step": snap.step,
                "loss": snap.loss,
                "sample_index": snap.sample_index,
                "params": params_to_json(snap.params),
                "previous": None if snap.previous is None else params_to_json(snap.previous),
            }
            for snap in history
        ]
    vectors = []
    for snap in history:
        vectors.append(flatten(snap.params))
        if snap.previous is not None:
            vectors.append(flatten(snap.previous))
    return {
        "steps": [snap.step for snap in history],
        "losses": [snap.loss for snap in history],
        "sample_indices": [snap.sample_index for snap in history],
        "has_previous": [snap.previous is not None for snap in history],
        "values": _pack(np.concatenate(vectors) if vectors else np.zeros(0)),
    }


def _history_from_json(arch: Architecture, value: Any) -> tuple[Snapshot, ...]:
    snaps: list[Snapshot] = []
    if isinstance(value, Mapping):
        values = _unpack(value["values"])
        size = parameter_count(arch)
        expected = size * (len(value["steps"]) + sum(bool(flag) for flag in value["has_previous"]))
        if values.size != expected:
            raise NotASessionDocumentError(f"history: expected {expected} packed numbers, got {values.size}")
        offset = 0
        for step, loss, index, has_previous in zip(
            value["steps"], value["losses"], value["sample_indices"], value["has_previous"], strict=True
        ):
            params = unflatten(arch, values[offset : offset + size])
            offset += size
            previous = None
            if has_previous:
                previous = unflatten(arch, values[offset : offset + size])
                offset += size
            snaps.append(
                Snapshot(int(step), None if loss is None else float(loss), params, previous, int(index))
            )
    else:
        for item in value:
            previous_json = item.get("previous")
            loss = item.get("loss")
            snaps.append(
                Snapshot(
                    int(item["step"]),
                    None if loss is None else float(loss),
                    params_from_json(arch, item["params"]),
                    None if previous_json is None else params_from_json(arch, previous_json),
                    int(item["sample_index"]),
                )
            )
    return tuple(snaps)


def to_document(session: Session, *, compact: bool = False) -> dict[str, Any]:
    """The session as a JSON-ready document (``compact`` for storage, plain for export)."""
    progress = progress_of(session)
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_json(session.config),
        "params": params_to_json(session.params),
        "previous": None if session.previous is None else params_to_json(session.previous),
        "dataset": session.data.to_json(),
        "sample_index": session.sample_index,
        "phase": session.phase,
        "substep_mode": session.substep_mode,
        "progress": {"forward_layers": progress.forward_layers, "backward_layers": progress.backward_layers},
        "step": session.step,
        "loss_trajectory": _floats(session.history.losses(), compact),
        "history": _history_to_json(session.history.snapshots(), compact),
        "origin": {
            "config": config_to_json(session.origin.config),
            "params": params_to_json(session.origin.params),
            "dataset": session.origin.data.to_json(),
        },
    }


def from_document(document: Mapping[str, Any], session_id: str) -> Session:
    """A session from a document, every part checked; raises InvalidInputError (for the document's
    own faults NotASessionDocumentError) saying what is wrong."""
    try:
        return _from_document(document, session_id)
    except InvalidInputError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise NotASessionDocumentError(f"not a valid session document: {what}") from exc


def _from_document(document: Mapping[str, Any], session_id: str) -> Session:
    if document.get("format") != FORMAT:
        raise NotASessionDocumentError(f"not a session document: 'format' must be {FORMAT!r}")
    if document.get("version") != VERSION:
        raise NotASessionDocumentError(
            f"unsupported document version {document.get('version')!r}; this server reads {VERSION}"
        )
    config = config_from_json(document["config"])
    arch = config.arch
    data = dataset_from_json(document["dataset"])
    origin_json = document["origin"]
    origin = Origin(
        config_from_json(origin_json["config"]),
        params_from_json(config_from_json(origin_json["config"]).arch, origin_json["params"]),
        dataset_from_json(origin_json["dataset"]),
    )
    if origin.config.arch != arch:
        raise NotASessionDocumentError("origin: its architecture differs from the session's")
    for name, d in (("dataset", data), ("origin.dataset", origin.data)):
        if d.inputs.shape[1] != arch.layers[0] or d.targets.shape[1] != arch.layers[-1]:
            raise NotASessionDocumentError(f"{name}: samples do not fit layers {list(arch.layers)}")
    phase = document["phase"]
    if phase not in PHASES:
        raise NotASessionDocumentError(f"phase: must be one of {', '.join(PHASES)}")
    previous_json = document.get("previous")
    previous = None if previous_json is None else params_from_json(arch, previous_json)
    if phase == "updated" and previous is None:
        raise NotASessionDocumentError("phase 'updated' needs the parameters before the update ('previous')")
    if phase != "updated":
        previous = None
    sample_index = int(document["sample_index"])
    if not 0 <= sample_index < len(data):
        raise NotASessionDocumentError(f"sample_index: must lie in 0..{len(data) - 1}")
    step = int(document["step"])
    trajectory = tuple(_read_floats(document["loss_trajectory"]))
    if len(trajectory) > MAX_LOSS_HISTORY:
        raise NotASessionDocumentError(f"loss_trajectory: at most {MAX_LOSS_HISTORY} losses")
    if not 0 <= step <= len(trajectory):
        raise NotASessionDocumentError("step: larger than the number of recorded losses")
    if not all(np.isfinite(trajectory)):
        raise NotASessionDocumentError("loss_trajectory: every loss must be finite")
    history = _history_from_json(arch, document["history"])
    if any(snap.loss is not None and not np.isfinite(snap.loss) for snap in history):
        raise NotASessionDocumentError("history: every loss must be finite")
    if len(history) > MAX_HISTORY or any(a.step >= b.step for a, b in itertools.pairwise(history)):
        raise NotASessionDocumentError(f"history: at most {MAX_HISTORY} states, in increasing step order")
    if history and (history[0].step < 0 or history[-1].step > len(trajectory)):
        raise NotASessionDocumentError("history: a kept step lies beyond the recorded losses")
    progress_json = document.get("progress") or {}
    progress = Progress(
        int(progress_json.get("forward_layers", arch.depth)),
        int(progress_json.get("backward_layers", arch.depth)),
    )
    if not (0 <= progress.forward_layers <= arch.depth and 0 <= progress.backward_layers <= arch.depth):
        raise NotASessionDocumentError(f"progress: layer counts must lie in 0..{arch.depth}")
    if phase == "forwarding" and progress.forward_layers == 0:
        raise NotASessionDocumentError("progress: a forward pass in progress has at least one layer done")
    if phase == "backwarding" and progress.backward_layers == 0:
        raise NotASessionDocumentError("progress: a backward pass in progress has at least one layer done")
    session = Session(
        id=session_id,
        config=config,
        params=params_from_json(arch, document["params"]),
        data=data,
        origin=origin,
        sample_index=sample_index,
        phase=cast(Any, phase),
        previous=previous,
        step=step,
        history=history_of(trajectory, history),
        recent_losses=trajectory[max(0, step - RECENT_LOSSES) : step],
        substep_mode=bool(document.get("substep_mode", False)),
    )
    return replay(session, progress)


# --------------------------------------------------------------------------------------------
# The state document a store saves
# --------------------------------------------------------------------------------------------


def _pack_params(params: Parameters) -> str:
    return _pack(params.vector)


def _dataset_to_state(data: Dataset) -> dict[str, Any]:
    if data.name is not None and BUILTIN.get(data.name) is data:
        return {"name": data.name}
    return {
        "shape": [len(data), int(data.inputs.shape[1]), int(data.targets.shape[1])],
        "values": _pack(np.concatenate([data.inputs.ravel(), data.targets.ravel()])),
    }


def _dataset_from_state(value: Mapping[str, Any]) -> Dataset:
    name = value.get("name")
    if name is not None:
        return BUILTIN[str(name)]
    n, inputs, targets = (int(v) for v in value["shape"])
    values = _unpack(value["values"])
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
        "recent_losses": _pack(session.recent_losses),
        "history": [summary.losses, summary.kept, summary.first_kept, summary.last_kept],
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
            unflatten(arch, _unpack(origin_json["params"])),
            _dataset_from_state(origin_json["dataset"]),
        )
        previous = document["previous"]
        forward_layers, backward_layers = (int(v) for v in document["progress"])
        losses, kept, first_kept, last_kept = (int(v) for v in document["history"])
        session = Session(
            id=session_id,
            config=config,
            params=unflatten(arch, _unpack(document["params"])),
            data=_dataset_from_state(document["dataset"]),
            origin=origin,
            sample_index=int(document["sample_index"]),
            phase=cast(Any, document["phase"]),
            previous=None if previous is None else unflatten(arch, _unpack(previous)),
            step=int(document["step"]),
            history=History(source, Summary(losses, kept, first_kept, last_kept)),
            recent_losses=tuple(_unpack(document["recent_losses"]).tolist()),
            substep_mode=bool(document["substep_mode"]),
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
