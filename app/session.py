"""A session: one network being taught, as one immutable value, and the functions that step it.

Every function here takes a :class:`Session` and returns a new one; nothing is changed in place, so
a step that fails (a phase error, a diverging update) leaves the stored session exactly as it was.

The phase machine::

    idle ──forward──▶ forward ──backward──▶ backward ──update──▶ updated
      └─ sub-steps: forwarding (layer by layer) … forward … backwarding (δ layer by layer) … ┘

``forward`` is allowed from any phase (it recomputes); ``backward`` needs a finished forward pass;
``update`` needs a finished backward pass. Any edit clears the traces and returns to ``idle``.

Traces are derived data: they are recomputed from the parameters and the phase when a session is
loaded (see :func:`replay`), so storage and export hold only what cannot be recomputed. What grows
with training (every loss, the kept states for undo) is the session's :class:`~app.history.History`,
stored apart from the rest so that a step costs what the network costs, not what the history does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from app import engine
from app.datasets import DEFAULT_INPUT, DEFAULT_TARGET, Dataset, builtin, make_dataset, single
from app.engine import Architecture, BackwardTrace, ForwardTrace, Parameters
from app.errors import InvalidInputError, NotKeptError, PhaseError
from app.history import History, Snapshot, history_of
from app.limits import MAX_LOSS_HISTORY, MAX_TRAIN_EPOCHS, MAX_TRAIN_STEPS, RECENT_LOSSES

Phase = Literal["idle", "forwarding", "forward", "backwarding", "backward", "updated"]
PHASES: tuple[Phase, ...] = get_args(Phase)
Mode = Literal["sgd", "batch"]
MODES: tuple[Mode, ...] = get_args(Mode)


# --------------------------------------------------------------------------------------------
# The phase table: every rule that depends on the phase, asked by everything that needs one
# (the steps below, the page's buttons and stages, the API's next step, the derivations, the
# diagram's highlight). A new phase is a new row here.
# --------------------------------------------------------------------------------------------

Step = Literal["forward", "backward", "update"]
#: Where one of the three coarse steps stands: "done", "running" (part-way, in sub-steps),
#: "next" or "todo".
Stage = Literal["done", "running", "next", "todo"]
#: What the step that ended in a phase computed: nothing, one more layer of the forward pass,
#: the loss, δ of one more layer going back, or the update.
Computed = Literal["nothing", "layer", "loss", "delta", "update"]


@dataclass(frozen=True)
class PhaseRule:
    """What a phase allows, and how the app speaks of it."""

    #: The coarse step that comes next.
    next_step: Step
    #: Where forward, backward and update stand, in that order.
    stages: tuple[Stage, Stage, Stage]
    #: Why backward is refused in this phase; None where it is allowed.
    backward_refusal: str | None
    #: Why update is refused in this phase; None where it is allowed.
    update_refusal: str | None
    #: What a gradient still needs before it exists, in words; None once backward has begun.
    gradient_needs: str | None
    #: Whether the session's backward trace belongs to this phase (its δ and gradients count).
    shows_backward: bool
    #: What the step that ended in this phase computed (what a sub-step highlights).
    computed: Computed
    #: When the numbers on show were computed, for titles: "after forward".
    words: str
    #: Whether the next forward pass moves on to the next sample (in SGD mode).
    advances_sample: bool


_RUN_FORWARD_FIRST = "run forward, then backward, first"

PHASE_TABLE: dict[Phase, PhaseRule] = {
    "idle": PhaseRule(
        next_step="forward",
        stages=("next", "todo", "todo"),
        backward_refusal="backward needs the forward pass: run forward first",
        update_refusal="update needs the gradients: run forward, then backward, first",
        gradient_needs=_RUN_FORWARD_FIRST,
        shows_backward=False,
        computed="nothing",
        words="before any step",
        advances_sample=False,
    ),
    "forwarding": PhaseRule(
        next_step="forward",
        stages=("running", "todo", "todo"),
        backward_refusal="the forward pass is not finished: run forward (or the remaining sub-steps) first",
        update_refusal="update needs the gradients: finish forward, then run backward, first",
        gradient_needs=(
            "finish the forward pass (forward, or the remaining sub-steps), then run backward, first"
        ),
        shows_backward=False,
        computed="layer",
        words="during the forward pass",
        advances_sample=False,
    ),
    "forward": PhaseRule(
        next_step="backward",
        stages=("done", "next", "todo"),
        backward_refusal=None,
        update_refusal="update needs the gradients: run backward first",
        gradient_needs="run backward first",
        shows_backward=False,
        computed="loss",
        words="after forward",
        advances_sample=False,
    ),
    "backwarding": PhaseRule(
        next_step="backward",
        stages=("done", "running", "todo"),
        backward_refusal=None,
        update_refusal="the backward pass is not finished: run backward (or the remaining sub-steps) first",
        gradient_needs=None,
        shows_backward=True,
        computed="delta",
        words="during the backward pass",
        advances_sample=False,
    ),
    "backward": PhaseRule(
        next_step="update",
        stages=("done", "done", "next"),
        backward_refusal="backward is already done: update comes next (or forward to start again)",
        update_refusal=None,
        gradient_needs=None,
        shows_backward=True,
        computed="delta",
        words="after backward",
        advances_sample=False,
    ),
    "updated": PhaseRule(
        next_step="forward",
        stages=("done", "done", "done"),
        backward_refusal="backward needs a forward pass with the new weights: run forward first",
        update_refusal="this update is done: run forward, then backward, before the next update",
        gradient_needs=_RUN_FORWARD_FIRST,
        shows_backward=True,
        computed="update",
        words="after update",
        advances_sample=True,
    ),
}

DEFAULT_LEARNING_RATE = 0.5
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Config:
    """How a session's network is built and trained."""

    arch: Architecture = field(default_factory=Architecture)
    #: η in w ← w − η ∂L/∂w.
    learning_rate: float = DEFAULT_LEARNING_RATE
    #: Whether update changes the biases too (the article updates weights only).
    train_biases: bool = True
    #: Seed of the initial weights (see engine.init_parameters).
    seed: int = DEFAULT_SEED
    #: "sgd": one sample per step, in turn; "batch": every sample, gradient = mean over samples.
    mode: Mode = "sgd"

    def __post_init__(self) -> None:
        engine.check_learning_rate(self.learning_rate)
        if self.mode not in MODES:
            raise InvalidInputError(f"mode: must be one of {', '.join(MODES)}, got {self.mode!r}")


@dataclass(frozen=True)
class Origin:
    """How the session was created, for reset."""

    config: Config
    params: Parameters
    data: Dataset


@dataclass(frozen=True)
class Session:
    """Everything about one user's network. Traces are derived (see :func:`replay`)."""

    id: str
    config: Config
    params: Parameters
    data: Dataset
    origin: Origin
    #: The current sample: the one stepped in SGD mode, the one shown in batch mode.
    sample_index: int = 0
    phase: Phase = "idle"
    forward: ForwardTrace | None = None
    backward: BackwardTrace | None = None
    #: Parameters before the last update (set in phase "updated", for old → new).
    previous: Parameters | None = None
    #: Number of updates applied so far.
    step: int = 0
    #: Every loss and the kept states. Losses may run past ``step`` after a restore, so the
    #: timeline can jump forward again; the next update drops them.
    history: History = field(default_factory=History)
    #: The losses of the last (at most RECENT_LOSSES) updates before ``step``, oldest first.
    recent_losses: tuple[float, ...] = ()
    #: True when the last step was a sub-step, so the diagram highlights just what it computed.
    substep_mode: bool = False

    @property
    def arch(self) -> Architecture:
        return self.config.arch

    @property
    def loss_history(self) -> tuple[float, ...]:
        """Loss of the forward pass behind each of the ``step`` updates so far (reads them all)."""
        return tuple(self.history.losses(0, self.step).tolist())

    @property
    def can_undo(self) -> bool:
        """Whether a state before the current step is kept (cheap: no history read)."""
        return 0 <= self.history.first_kept < self.step

    @property
    def input(self) -> list[float]:
        return [float(v) for v in self.data.inputs[self.sample_index]]

    @property
    def target(self) -> list[float]:
        return [float(v) for v in self.data.targets[self.sample_index]]

    @property
    def display_row(self) -> int:
        """Which row of the traces belongs to the current sample."""
        return self.sample_index if self.config.mode == "batch" else 0

    @property
    def shown_params(self) -> Parameters:
        """The parameters the traces were computed with (the old ones after an update)."""
        if self.phase == "updated" and self.previous is not None:
            return self.previous
        return self.params


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


def _check_data_fits(arch: Architecture, data: Dataset) -> None:
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
    _check_data_fits(arch, data)
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


def _batch(session: Session, sample_index: int) -> tuple[engine.Array, engine.Array]:
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
    inputs, targets = _batch(session, index)
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


def _recent(recent: tuple[float, ...], losses: Sequence[float]) -> tuple[float, ...]:
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
        recent_losses=_recent(session.recent_losses, (loss,)),
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
        inputs, targets = _batch(session, index)
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
    batches = [_batch(session, i) for i in range(len(data) if config.mode == "sgd" else 1)]
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
        recent_losses=_recent(session.recent_losses, losses),
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
    _check_data_fits(session.arch, data)
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
    inputs, targets = _batch(session, session.sample_index)
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
