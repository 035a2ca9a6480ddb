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
from typing import Any

import numpy as np

from app import engine
from app.datasets import BUILTIN, Dataset, make_dataset
from app.engine import Architecture, Parameters
from app.errors import InvalidInputError, NotASessionDocumentError
from app.history import Snapshot, history_of
from app.limits import MAX_HISTORY, MAX_LOSS_HISTORY, MAX_SEED, RECENT_LOSSES
from app.session import (
    PHASES,
    Config,
    Origin,
    Phase,
    Progress,
    Session,
    progress_of,
    replay,
)

FORMAT = "backprop-viz.session"
VERSION = 1


def pack(values: Sequence[float] | np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, dtype="<f8").tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 8:
        raise NotASessionDocumentError("a packed float array has a length that is not a multiple of 8 bytes")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64)


def _floats(value: Any, compact: bool) -> Any:
    return pack(value) if compact else [float(v) for v in value]


def _read_floats(value: Any) -> list[float]:
    if isinstance(value, str):
        return [float(v) for v in unpack(value)]
    if not isinstance(value, list):
        raise NotASessionDocumentError("loss_trajectory: must be a list of numbers")
    return [number(v, "loss_trajectory") for v in value]


def numbers(value: Any, depth: int, name: str) -> Any:
    """``value`` if it is lists nested ``depth`` deep around numbers (not bools or strings): what
    JSON must hold where weights, biases, inputs and targets go."""
    if depth == 0:
        number(value, name)
        return value
    if not isinstance(value, list):
        raise NotASessionDocumentError(f"{name}: must be a list")
    for item in value:
        numbers(item, depth - 1, name)
    return value


def params_to_json(params: Parameters) -> dict[str, Any]:
    return {"weights": [w.tolist() for w in params.weights], "biases": [b.tolist() for b in params.biases]}


def params_from_json(arch: Architecture, value: Mapping[str, Any]) -> Parameters:
    weights = numbers(value["weights"], 3, "weights")
    biases = numbers(value["biases"], 2, "biases")
    return engine.make_parameters(arch, weights, biases)


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


def whole(value: Any, name: str) -> int:
    """A whole number as JSON writes it: an int, not a bool, a float or a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotASessionDocumentError(f"{name}: must be a whole number, got {value!r}"[:200])
    return value


def number(value: Any, name: str) -> float:
    """A number as JSON writes it: an int or a float, not a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotASessionDocumentError(f"{name}: must be a number, got {value!r}"[:200])
    return float(value)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise NotASessionDocumentError(f"{name}: must be true or false, got {value!r}"[:200])
    return value


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise NotASessionDocumentError(f"{name}: must be a string, got {value!r}"[:200])
    return value


def config_from_json(value: Mapping[str, Any]) -> Config:
    layers = value["layers"]
    if not isinstance(layers, list):
        raise NotASessionDocumentError("layers: must be a list of whole numbers")
    arch = Architecture(
        tuple(whole(n, "layers") for n in layers),
        text(value["activation"], "activation"),
        text(value["output_activation"], "output_activation"),
        text(value["loss"], "loss"),
    )
    seed = whole(value["seed"], "seed")
    if not 0 <= seed <= MAX_SEED:
        raise NotASessionDocumentError(f"seed: must lie in 0..{MAX_SEED}, got {seed}")
    return Config(
        arch,
        number(value["learning_rate"], "learning_rate"),
        flag(value["train_biases"], "train_biases"),
        seed,
        text(value["mode"], "mode"),  # type: ignore[arg-type]  # Config checks it is a mode
    )


def dataset_from_json(value: Mapping[str, Any]) -> Dataset:
    """The dataset, named only if it is exactly that built-in (a document cannot relabel data)."""
    name = value.get("name")
    if name is not None:
        text(name, "dataset.name")
    inputs = numbers(value["inputs"], 2, "dataset.inputs")
    targets = numbers(value["targets"], 2, "dataset.targets")
    data = make_dataset(inputs, targets, name=None)
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
        "values": pack(np.concatenate(vectors) if vectors else np.zeros(0)),
    }


def _history_from_json(arch: Architecture, value: Any) -> tuple[Snapshot, ...]:
    snaps: list[Snapshot] = []
    # Refused by its length before a single state is read (a hostile document costs nothing).
    if len(value["steps"] if isinstance(value, Mapping) else value) > MAX_HISTORY:
        raise NotASessionDocumentError(f"history: at most {MAX_HISTORY} states, in increasing step order")
    if isinstance(value, Mapping):
        for name in ("steps", "losses", "sample_indices", "has_previous"):
            if not isinstance(value[name], list):
                raise NotASessionDocumentError(f"history.{name}: must be a list")
        values = unpack(text(value["values"], "history.values"))
        size = parameter_count(arch)
        expected = size * (
            len(value["steps"]) + sum(flag(has, "history.has_previous") for has in value["has_previous"])
        )
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
                Snapshot(
                    whole(step, "history.step"),
                    None if loss is None else number(loss, "history.loss"),
                    params,
                    previous,
                    whole(index, "history.sample_index"),
                )
            )
    else:
        for item in value:
            previous_json = item.get("previous")
            loss = item.get("loss")
            snaps.append(
                Snapshot(
                    whole(item["step"], "history.step"),
                    None if loss is None else number(loss, "history.loss"),
                    params_from_json(arch, item["params"]),
                    None if previous_json is None else params_from_json(arch, previous_json),
                    whole(item["sample_index"], "history.sample_index"),
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
    _check_format(document)
    config = config_from_json(document["config"])
    arch = config.arch
    data = dataset_from_json(document["dataset"])
    origin = _origin_from_json(document["origin"], arch)
    phase, previous = _phase_from_json(document, arch)
    sample_index = whole(document["sample_index"], "sample_index")
    if not 0 <= sample_index < len(data):
        raise NotASessionDocumentError(f"sample_index: must lie in 0..{len(data) - 1}")
    step = whole(document["step"], "step")
    trajectory, kept = _history_from_document(document, arch, step)
    session = Session(
        id=session_id,
        config=config,
        params=params_from_json(arch, document["params"]),
        data=_fitted(data, arch, "dataset"),
        origin=origin,
        sample_index=sample_index,
        phase=phase,
        previous=previous,
        step=step,
        history=history_of(trajectory, kept),
        recent_losses=trajectory[max(0, step - RECENT_LOSSES) : step],
        substep_mode=flag(document.get("substep_mode", False), "substep_mode"),
    )
    progress = document.get("progress")
    if progress is not None and not isinstance(progress, Mapping):
        raise NotASessionDocumentError("progress: must be an object")
    return replay(session, _progress_from_json(progress or {}, arch, phase))


def _check_format(document: Mapping[str, Any]) -> None:
    if document.get("format") != FORMAT:
        raise NotASessionDocumentError(f"not a session document: 'format' must be {FORMAT!r}")
    if document.get("version") != VERSION:
        raise NotASessionDocumentError(
            f"unsupported document version {document.get('version')!r}; this server reads {VERSION}"
        )


def _fitted(data: Dataset, arch: Architecture, name: str) -> Dataset:
    if data.inputs.shape[1] != arch.layers[0] or data.targets.shape[1] != arch.layers[-1]:
        raise NotASessionDocumentError(f"{name}: samples do not fit layers {list(arch.layers)}")
    return data


def _origin_from_json(value: Mapping[str, Any], arch: Architecture) -> Origin:
    config = config_from_json(value["config"])
    if config.arch != arch:
        raise NotASessionDocumentError("origin: its architecture differs from the session's")
    data = _fitted(dataset_from_json(value["dataset"]), arch, "origin.dataset")
    return Origin(config, params_from_json(arch, value["params"]), data)


def _phase_from_json(document: Mapping[str, Any], arch: Architecture) -> tuple[Phase, Parameters | None]:
    """The phase, and the parameters before the update when it is "updated" (None otherwise)."""
    phase = document["phase"]
    if phase not in PHASES:
        raise NotASessionDocumentError(f"phase: must be one of {', '.join(PHASES)}")
    previous_json = document.get("previous")
    # Checked whenever it is there, though only an update keeps it.
    previous = None if previous_json is None else params_from_json(arch, previous_json)
    if phase != "updated":
        return phase, None
    if previous is None:
        raise NotASessionDocumentError("phase 'updated' needs the parameters before the update ('previous')")
    return phase, previous


def _history_from_document(
    document: Mapping[str, Any], arch: Architecture, step: int
) -> tuple[tuple[float, ...], tuple[Snapshot, ...]]:
    """The losses and the kept states, every cap checked (as many as a session may hold)."""
    raw = document["loss_trajectory"]
    # Refused by its length before a single loss is read (base64 holds 8 bytes a loss in 4/3 as many).
    if len(raw) > (MAX_LOSS_HISTORY * 32 // 3 + 4 if isinstance(raw, str) else MAX_LOSS_HISTORY):
        raise NotASessionDocumentError(f"loss_trajectory: at most {MAX_LOSS_HISTORY} losses")
    trajectory = tuple(_read_floats(raw))
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
    return trajectory, history


def _progress_from_json(value: Mapping[str, Any], arch: Architecture, phase: Phase) -> Progress:
    progress = Progress(
        whole(value.get("forward_layers", arch.depth), "progress.forward_layers"),
        whole(value.get("backward_layers", arch.depth), "progress.backward_layers"),
    )
    if not (0 <= progress.forward_layers <= arch.depth and 0 <= progress.backward_layers <= arch.depth):
        raise NotASessionDocumentError(f"progress: layer counts must lie in 0..{arch.depth}")
    if phase == "forwarding" and progress.forward_layers == 0:
        raise NotASessionDocumentError("progress: a forward pass in progress has at least one layer done")
    if phase == "backwarding" and progress.backward_layers == 0:
        raise NotASessionDocumentError("progress: a backward pass in progress has at least one layer done")
    return progress
