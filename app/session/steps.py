"""Creating a session and stepping it: forward, backward, update, the sub-steps, and the replay of
the traces of a stored session (they are derived: recomputed from the parameters and the phase)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from app import engine
from app.datasets import DEFAULT_INPUT, DEFAULT_TARGET, Dataset, builtin, single
from app.engine import Architecture
from app.errors import InvalidInputError, PhaseError
from app.history import Snapshot, history_of
from app.limits import MAX_LOSS_HISTORY, RECENT_LOSSES
from app.session.phases import PHASE_TABLE, Mode
from app.session.value import DEFAULT_LEARNING_RATE, DEFAULT_SEED, Config, Origin, Session

# --------------------------------------------------------------------------------------------
# Creating
# --------------------------------------------------------------------------------------------


def resolve_dataset(
    spec: str | Dataset | None,
    input_: Sequence[float] | None,
    target: Sequence[float] | None,
) -> Dataset:
    """The dataset a session starts with: a built-in name, a table, or one input and target."""
    if spec is not None:
        if input_ is not None or target is not None:
            raise InvalidInputError("give either a dataset or an input and target, not both")
        return builtin(spec) if isinstance(spec, str) else spec
    return single(
        list(input_) if input_ is not None else list(DEFAULT_INPUT),
        list(target) if target is not None else list(DEFAULT_TARGET),
    )


def check_data_fits(arch: Architecture, data: Dataset) -> None:
    if data.inputs.shape[1] != arch.layers[0]:
        raise InvalidInputError(
            f"input: the network has {arch.layers[0]} inputs, "
            f"but each sample has {data.inputs.shape[1]} values"
        )
    if data.targets.shape[1] != arch.layers[-1]:
        raise InvalidInputError(
            f"target: the network has {arch.layers[-1]} outputs, "
            f"but each sample has {data.targets.shape[1]} target values"
        )


def create(
    session_id: str,
    *,
    layers: Sequence[int] | None = None,
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    loss: str = "l2",
    learning_rate: float = DEFAULT_LEARNING_RATE,
    seed: int = DEFAULT_SEED,
    weights: Sequence[Sequence[Sequence[float]]] | None = None,
    biases: Sequence[Sequence[float]] | None = None,
    input: Sequence[float] | None = None,  # noqa: A002 - the API's field name
    target: Sequence[float] | None = None,
    train_biases: bool = True,
    dataset: str | Dataset | None = None,
    mode: Mode = "sgd",
) -> Session:
    """A new session; omitted weights and biases are drawn from ``seed``."""
    data = resolve_dataset(dataset, input, target)
    if layers is None:
        # A dataset decides the input and output widths, with the article's 3 hidden units in
        # between; otherwise the article's 2-3-2.
        layers = (data.inputs.shape[1], 3, data.targets.shape[1]) if dataset is not None else (2, 3, 2)
    arch = Architecture(tuple(int(n) for n in layers), activation, output_activation, loss)
    config = Config(arch, float(learning_rate), bool(train_biases), int(seed), mode)
    check_data_fits(arch, data)
    params = engine.init_parameters(arch, seed)
    if weights is not None or biases is not None:
        params = engine.make_parameters(
            arch,
            weights if weights is not None else [w.tolist() for w in params.weights],
            biases if biases is not None else [b.tolist() for b in params.biases],
        )
    return Session(
        id=session_id,
        config=config,
        params=params,
        data=data,
        origin=Origin(config, params, data),
        history=history_of((), (Snapshot(0, None, params, None, 0),)),
    )


# --------------------------------------------------------------------------------------------
# The phase machine
# --------------------------------------------------------------------------------------------


def batch_of(session: Session, sample_index: int) -> tuple[engine.Array, engine.Array]:
    if session.config.mode == "batch":
        return session.data.inputs, session.data.targets
    return session.data.inputs[sample_index : sample_index + 1], session.data.targets[
        sample_index : sample_index + 1
    ]


def next_sample(session: Session) -> int:
    """The sample the next forward pass uses: after an update in SGD mode, the next one."""
    if PHASE_TABLE[session.phase].advances_sample and session.config.mode == "sgd":
        return (session.sample_index + 1) % len(session.data)
    return session.sample_index


def run_forward(session: Session) -> Session:
    """The whole forward pass and the loss; allowed from any phase (it recomputes)."""
    index = next_sample(session)
    inputs, targets = batch_of(session, index)
    trace = engine.forward(session.arch, session.params, inputs, targets)
    return replace(
        session,
        sample_index=index,
        phase="forward",
        forward=trace,
        backward=None,
        previous=None,
        substep_mode=False,
    )


def run_backward(session: Session) -> Session:
    """δ of every layer and every gradient; needs a finished forward pass."""
    refusal = PHASE_TABLE[session.phase].backward_refusal
    if refusal is not None or session.forward is None:
        raise PhaseError(refusal or "run forward first")
    trace = engine.backward(session.arch, session.params, session.forward)
    return replace(session, phase="backward", backward=trace, substep_mode=False)


def with_recent(recent: tuple[float, ...], losses: Sequence[float]) -> tuple[float, ...]:
    return (*recent, *losses[-RECENT_LOSSES:])[-RECENT_LOSSES:]


def run_update(session: Session) -> Session:
    """w ← w − η ∂L/∂w for every layer at once; needs a finished backward pass."""
    refusal = PHASE_TABLE[session.phase].update_refusal
    if refusal is not None or session.backward is None or session.forward is None:
        raise PhaseError(refusal or "run backward first")
    if session.step >= MAX_LOSS_HISTORY:
        raise PhaseError(f"this session has reached {MAX_LOSS_HISTORY} updates: reset it to go on")
    params = engine.update(
        session.params, session.backward, session.config.learning_rate, session.config.train_biases
    )
    loss = session.forward.loss
    assert loss is not None
    step = session.step + 1
    writer = session.history.writer()
    # Recording update `step` drops whatever a restore had left from it on.
    writer.truncate(losses=step - 1, kept_below=step)
    writer.add_losses((loss,))
    writer.keep(Snapshot(step, loss, params, session.params, session.sample_index))
    return replace(
        session,
        params=params,
        previous=session.params,
        phase="updated",
        step=step,
        history=writer.result(),
        recent_losses=with_recent(session.recent_losses, (loss,)),
        substep_mode=False,
    )


def run_step(session: Session) -> Session:
    """Forward, backward and update in one go."""
    return run_update(run_backward(run_forward(session)))


# --------------------------------------------------------------------------------------------
# Sub-steps: forward one layer at a time, the loss, δ one layer at a time going back, update.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubStep:
    """Where the sub-step cursor stands."""

    #: Sub-steps done in this cycle (0 .. total).
    done: int
    #: Sub-steps in one full cycle: L forward layers, the loss, L deltas, the update.
    total: int
    #: What the next sub-step computes, in words.
    next: str


def substep_position(session: Session) -> SubStep:
    """How far the current cycle has got, and what comes next."""
    depth = session.arch.depth
    total = 2 * depth + 2
    fwd, bwd = session.forward, session.backward
    if session.phase in ("idle", "updated") or fwd is None:
        done = 0
    elif session.phase in ("forwarding", "forward"):
        done = fwd.layers_done + (1 if fwd.complete else 0)
    elif bwd is not None and session.phase in ("backwarding", "backward"):
        done = depth + 1 + bwd.layers_done
    else:
        done = depth + 1
    return SubStep(done=done, total=total, next=describe_substep(session.arch, done if done < total else 0))


def describe_substep(arch: Architecture, done: int) -> str:
    """Words for sub-step number ``done`` (0-based) of a cycle."""
    depth = arch.depth
    if done < depth:
        return f"forward: layer {done + 1} (a({done + 1}), h({done + 1}))"
    if done == depth:
        return "forward: the loss L"
    if done < 2 * depth + 1:
        layer = depth - (done - depth - 1)
        where = "output" if layer == depth else "hidden"
        return f"backward: δ({layer}) of the {where} layer and its gradients"
    return "update: w ← w − η ∂L/∂w"


def run_substep(session: Session) -> Session:
    """The next sub-step of the cycle; agrees with the coarse steps to the last bit."""
    return replace(_next_substep(session), substep_mode=True)


def _next_substep(session: Session) -> Session:
    arch, params = session.arch, session.params
    phase, fwd = session.phase, session.forward
    if phase in ("idle", "updated", "backward") or fwd is None:
        if phase == "backward":
            return run_update(session)
        index = next_sample(session)
        inputs, targets = batch_of(session, index)
        trace = engine.forward_layer(arch, params, engine.start_forward(arch, inputs, targets))
        return replace(
            session, sample_index=index, phase="forwarding", forward=trace, backward=None, previous=None
        )
    if phase == "forwarding":
        if fwd.layers_done < arch.depth:
            return replace(session, forward=engine.forward_layer(arch, params, fwd))
        return replace(session, phase="forward", forward=engine.compute_loss(arch, fwd))
    # forward or backwarding: one more δ going back
    bwd = (
        session.backward
        if phase == "backwarding" and session.backward is not None
        else engine.start_backward(arch)
    )
    bwd = engine.backward_layer(arch, params, fwd, bwd)
    return replace(session, phase="backward" if bwd.complete else "backwarding", backward=bwd)


# --------------------------------------------------------------------------------------------
# Replay: recompute the traces of a stored session
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """How far a partial pass had got, which is all storage needs to rebuild the traces."""

    forward_layers: int = 0
    backward_layers: int = 0


def progress_of(session: Session) -> Progress:
    fwd, bwd = session.forward, session.backward
    return Progress(
        forward_layers=fwd.layers_done if fwd is not None else 0,
        backward_layers=bwd.layers_done if bwd is not None else 0,
    )


def replay(session: Session, progress: Progress | None = None) -> Session:
    """Rebuild the traces from the phase and the parameters (they are deterministic)."""
    arch = session.arch
    phase = session.phase
    progress = progress or Progress(arch.depth, arch.depth)
    if phase == "idle":
        return replace(session, forward=None, backward=None)
    params = session.shown_params
    inputs, targets = batch_of(session, session.sample_index)
    fwd = engine.start_forward(arch, inputs, targets)
    layers = progress.forward_layers if phase == "forwarding" else arch.depth
    for _ in range(layers):
        fwd = engine.forward_layer(arch, params, fwd)
    if phase == "forwarding":
        return replace(session, forward=fwd, backward=None)
    fwd = engine.compute_loss(arch, fwd)
    if phase == "forward":
        return replace(session, forward=fwd, backward=None)
    bwd = engine.start_backward(arch)
    layers = progress.backward_layers if phase == "backwarding" else arch.depth
    for _ in range(layers):
        bwd = engine.backward_layer(arch, params, fwd, bwd)
    return replace(session, forward=fwd, backward=bwd)
