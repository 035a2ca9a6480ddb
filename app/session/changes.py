"""Changes beyond one step: training many steps, undo and restore, reset, and edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app import engine
from app.datasets import Dataset, builtin, make_dataset
from app.errors import InvalidInputError, NotKeptError, PhaseError
from app.history import Snapshot
from app.limits import MAX_LOSS_HISTORY, MAX_TRAIN_EPOCHS, MAX_TRAIN_STEPS, RECENT_LOSSES
from app.session.phases import PHASE_TABLE, Mode, Phase
from app.session.steps import batch_of, check_data_fits, replay, run_step, with_recent
from app.session.value import Session

# --------------------------------------------------------------------------------------------
# Training, undo, history, reset, edits
# --------------------------------------------------------------------------------------------


def steps_per_epoch(session: Session) -> int:
    return len(session.data) if session.config.mode == "sgd" else 1


def train(session: Session, epochs: int) -> Session:
    """``epochs`` passes over the dataset: exactly the same as that many single steps.

    Atomic: if the training diverges the session is returned unchanged (DivergenceError).
    """
    if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
        raise InvalidInputError(f"epochs: must lie in 1..{MAX_TRAIN_EPOCHS}, got {epochs}")
    count = epochs * steps_per_epoch(session)
    if count > MAX_TRAIN_STEPS:
        raise InvalidInputError(
            f"epochs: {epochs} epochs of {steps_per_epoch(session)} samples are {count} steps; "
            f"one request runs at most {MAX_TRAIN_STEPS} (use batch mode or fewer epochs)"
        )
    return run_steps(session, count)


def run_steps(session: Session, count: int) -> Session:
    """``count`` full steps, fast: the engine's step without building a session each time."""
    if session.step + count > MAX_LOSS_HISTORY:
        raise PhaseError(f"this session would pass {MAX_LOSS_HISTORY} updates: reset it to go on")
    if count <= 0:
        return session
    arch, config, data = session.arch, session.config, session.data
    params = session.params
    index = session.sample_index
    phase: Phase = session.phase
    step = session.step
    writer = session.history.writer()
    writer.truncate(losses=step, kept_below=step + 1)
    # Thinning depends on the step numbers alone: build snapshots only for the states it keeps.
    survivors = writer.will_keep(step + 1, count - 1)
    losses: list[float] = []
    # Each sample's batch, sliced once (the data were checked when they entered the session).
    batches = [batch_of(session, i) for i in range(len(data) if config.mode == "sgd" else 1)]
    engine.check_learning_rate(config.learning_rate)
    for _ in range(count - 1):
        if PHASE_TABLE[phase].advances_sample and config.mode == "sgd":
            index = (index + 1) % len(data)
        phase = "updated"
        inputs, targets = batches[index if config.mode == "sgd" else 0]
        new_params, loss = engine.train_step_checked(
            arch, params, inputs, targets, config.learning_rate, config.train_biases
        )
        step += 1
        losses.append(loss)
        if step in survivors:
            writer.keep(Snapshot(step, loss, new_params, params, index))
        else:
            writer.skip(step)
        params = new_params
    writer.add_losses(losses)
    partial = replace(
        session,
        params=params,
        sample_index=index,
        phase=phase,
        step=step,
        history=writer.result(),
        recent_losses=with_recent(session.recent_losses, losses),
    )
    # The last step through the full path, so the traces and "previous" are those of one step.
    return run_step(partial)


def undo(session: Session) -> Session:
    """Back to the state after the previous kept update."""
    earlier = session.history.latest_before(session.step) if session.can_undo else None
    if earlier is None:
        raise PhaseError("nothing to undo: no update has been made since the start (or the last edit)")
    return _restored(session, earlier)


def restore(session: Session, step: int) -> Session:
    """The state exactly as it was right after update ``step`` (later states stay kept)."""
    snap = session.history.snapshot(step)
    if snap is None:
        kept = ", ".join(str(k.step) for k in session.history.kept()[-5:])
        raise NotKeptError(f"step {step} is not kept in the history (the latest kept: {kept})")
    return _restored(session, snap)


def _restored(session: Session, snap: Snapshot) -> Session:
    restored = replace(
        session,
        params=snap.params,
        previous=snap.previous,
        sample_index=snap.sample_index % len(session.data),
        step=snap.step,
        phase="updated" if snap.previous is not None else "idle",
        forward=None,
        backward=None,
        recent_losses=tuple(session.history.losses(snap.step - RECENT_LOSSES, snap.step).tolist()),
        substep_mode=False,
    )
    return replay(restored)


def reset(session: Session) -> Session:
    """Back to how the session was created."""
    origin = session.origin
    return Session(
        id=session.id,
        config=origin.config,
        params=origin.params,
        data=origin.data,
        origin=origin,
        history=session.history.restarted(Snapshot(0, None, origin.params, None, 0)),
    )


def edit(
    session: Session,
    *,
    learning_rate: float | None = None,
    input: Sequence[float] | None = None,  # noqa: A002 - the API's field name
    target: Sequence[float] | None = None,
    weights: Sequence[Sequence[Sequence[float]]] | None = None,
    biases: Sequence[Sequence[float]] | None = None,
    train_biases: bool | None = None,
    dataset: str | Dataset | None = None,
    mode: Mode | None = None,
    sample_index: int | None = None,
) -> Session:
    """Change settings, the data or the parameters; clears the traces and returns to idle.

    ``input``/``target`` replace the current sample (with a dataset, its current row).
    Editing the parameters starts a new branch of the history at the current step.
    """
    config = session.config
    config = replace(
        config,
        learning_rate=config.learning_rate if learning_rate is None else float(learning_rate),
        train_biases=config.train_biases if train_biases is None else bool(train_biases),
        mode=config.mode if mode is None else mode,
    )
    data = session.data
    index = session.sample_index
    if dataset is not None:
        data = builtin(dataset) if isinstance(dataset, str) else dataset
        index = 0
    if input is not None or target is not None:
        inputs = data.inputs.tolist()
        targets = data.targets.tolist()
        if input is not None:
            inputs[index] = list(input)
        if target is not None:
            targets[index] = list(target)
        data = make_dataset(inputs, targets, name=None)
    if sample_index is not None:
        if not 0 <= sample_index < len(data):
            raise InvalidInputError(f"sample_index: must lie in 0..{len(data) - 1}, got {sample_index}")
        index = sample_index
    check_data_fits(session.arch, data)
    params = session.params
    history = session.history
    if weights is not None or biases is not None:
        params = engine.make_parameters(
            session.arch,
            weights if weights is not None else [w.tolist() for w in params.weights],
            biases if biases is not None else [b.tolist() for b in params.biases],
        )
        # A new branch: the states from this step on and the losses beyond it are dropped.
        writer = history.writer()
        writer.truncate(losses=session.step, kept_below=session.step)
        writer.keep(Snapshot(session.step, None, params, None, index), thinning=False)
        history = writer.result()
    return replace(
        session,
        config=config,
        data=data,
        sample_index=index,
        params=params,
        history=history,
        phase="idle",
        forward=None,
        backward=None,
        previous=None,
        substep_mode=False,
    )
