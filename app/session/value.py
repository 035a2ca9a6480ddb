"""A session as one immutable value: its configuration, parameters, data, phase, traces and history."""

from __future__ import annotations

from dataclasses import dataclass, field

from app import engine
from app.datasets import Dataset
from app.engine import Architecture, BackwardTrace, ForwardTrace, Parameters
from app.errors import InvalidInputError
from app.history import History
from app.session.phases import MODES, Mode, Phase

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
class Reveal:
    """Predict before reveal is on: what the last step computed stays hidden until revealed."""

    #: Where the session stood when the numbers in ``keys`` were revealed: (step, phase, forward
    #: layers done, backward layers done). A step moves the session on, so its new numbers start
    #: hidden again.
    at: tuple[int, str, int, int] = (0, "idle", 0, 0)
    #: The quantities revealed there, named as the page selects them: "unit:l,j", "weight:l,i,j",
    #: "bias:l,j", "loss".
    keys: frozenset[str] = frozenset()
    #: Everything revealed there at once.
    everything: bool = False


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
    #: Predict before reveal: None when off (see app/session/reveal.py).
    reveal: Reveal | None = None
    #: The store's version of this value, set by the store that hands it out (0 for a session never
    #: stored): it changes with every change, so a page that shows this session can tell, with one
    #: small read (``SessionStore.stamp``), whether it is still current. Not part of the content.
    stamp: int = field(default=0, compare=False)

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
