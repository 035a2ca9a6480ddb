"""The JSON API's answers: one model per kind of reply, built from the core's values (they
document themselves at /docs, with an example each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app import answers, explain, gradcheck, session, share
from app.answers import CheckResult
from app.engine import Array
from app.envelope import Envelope
from app.explain import Derivation
from app.gradcheck import GradientCheck
from app.session import PHASE_TABLE, Session, substep_position
from app.training import RunStatus
from app.web.schemas import Activation, LossFunction, Mode, Phase, QuantityKind, RunStateName, Step

#: The id of the sessions the examples show.
EXAMPLE_ID = "q3Jx0eYk2m4VtB7cN9pRwA"


def _after_backward() -> Session:
    """The article's network after forward and backward: what the examples show."""
    return session.run_backward(session.run_forward(session.create(EXAMPLE_ID)))


def _after_a_step() -> Session:
    """A session after its first step on XOR: every part of a state shown, none null (the schema
    leaves nulls out of examples)."""
    return session.run_step(session.create(EXAMPLE_ID, layers=[2, 2, 1], dataset="xor", mode="batch"))


def example(build: Callable[[], BaseModel]) -> Callable[[dict[str, Any]], None]:
    """A model's example in its schema, built by the code that builds its answers (when the schema
    is written), so that it is always a true answer."""

    def add(schema: dict[str, Any]) -> None:
        schema["examples"] = [build().model_dump(mode="json")]

    return add


class PresetInfo(BaseModel):
    """A named starting point; `fields` is the body POST /api/sessions builds it from."""

    name: str = Field(description='The value of `preset` in POST /api/sessions, e.g. "mazur"')
    title: str
    description: str = Field(description="One line on what it shows")
    citation: str = Field(description="Where its numbers come from")
    fields: dict[str, Any] = Field(description="The fields of POST /api/sessions it stands for")


class ShareLink(BaseModel):
    """A link that opens a new session with this one's configuration, data and current weights."""

    token: str = Field(description="URL-safe; GET /share/{token} opens it in the page")
    url: str = Field(description="The whole link, on the host the request was sent to")

    model_config = ConfigDict(
        json_schema_extra=example(
            lambda: ShareLink(
                token=(token := share.encode(_after_backward())), url=f"http://127.0.0.1:8000/share/{token}"
            )
        )
    )


class ForwardState(BaseModel):
    """The forward pass for the current sample (entries not yet computed in a sub-step are null)."""

    pre_activations: list[list[float] | None] = Field(description="a(l+1) for l = 0..L-1")
    activations: list[list[float] | None] = Field(description="h(l) for l = 0..L; [0] is the input")
    loss: float | None = Field(description="Loss of this pass (mean over the samples in batch mode)")
    batch_size: int = Field(description="Samples in this pass: 1, or the dataset size in batch mode")


class BackwardState(BaseModel):
    """The backward pass (entries not yet computed in a sub-step are null)."""

    deltas: list[list[float] | None] = Field(description="δ(l+1) = ∂L/∂a(l+1) for the current sample")
    weight_gradients: list[list[list[float]] | None] = Field(description="∂L/∂w(l), averaged over the batch")
    bias_gradients: list[list[float] | None] = Field(description="∂L/∂b(l), averaged over the batch")


class Parameters(BaseModel):
    weights: list[list[list[float]]]
    biases: list[list[float]]


class SubStepState(BaseModel):
    done: int
    total: int
    next: str


class DatasetState(BaseModel):
    name: str | None
    inputs: list[list[float]]
    targets: list[list[float]]


class SessionState(BaseModel):
    """A session's whole state; index conventions as in MATH.md (0-based, per layer)."""

    id: str = Field(description="The session's id: the {session_id} of every other operation")
    layers: list[int] = Field(description="Units per layer, input first")
    activation: Activation = Field(description="Activation of the hidden layers")
    output_activation: Activation
    loss: LossFunction = Field(description="The loss function")
    learning_rate: float
    train_biases: bool
    seed: int
    mode: Mode
    input: list[float]
    target: list[float]
    weights: list[list[list[float]]]
    biases: list[list[float]]
    phase: Phase
    next_step: Step = Field(description="The coarse step that comes next: forward, backward or update")
    step: int
    loss_count: int = Field(
        description="How many losses lead to the current state (one per update; equals `step`). "
        "The losses themselves: GET /api/sessions/{id}/losses"
    )
    recent_losses: list[float] = Field(
        description="The losses of the last (at most 100) updates before this state, oldest first"
    )
    forward: ForwardState | None
    backward: BackwardState | None
    previous: Parameters | None = Field(description="After an update, the parameters before it")
    dataset: DatasetState | None = Field(description="null for the single sample of the article")
    sample_index: int
    substep: SubStepState
    follow_url: str = Field(
        description="The path of a read-only live view of this session, under an id of its own "
        "(`/follow/<follow id>`): students open it to watch each step; it gives no way to write"
    )

    model_config = ConfigDict(
        json_schema_extra=example(lambda: state_of(_after_a_step(), follow_url="/follow/AbCdEfGhIjKlMnOp"))
    )


def _row(values: Array | None, row: int) -> list[float] | None:
    return None if values is None else values[row].tolist()


def _matrix(values: Array | None) -> Any:
    return None if values is None else values.tolist()


def state_of(session: Session, *, follow_url: str) -> SessionState:
    """The API's view of a session, built from the engine's traces; ``follow_url`` is its follow
    link's path (see app/follow.py)."""
    arch, row = session.arch, session.display_row
    fwd, bwd = session.forward, session.backward
    position = substep_position(session)
    return SessionState(
        id=session.id,
        layers=list(arch.layers),
        activation=arch.activation,
        output_activation=arch.output_activation,
        loss=arch.loss,
        learning_rate=session.config.learning_rate,
        train_biases=session.config.train_biases,
        seed=session.config.seed,
        mode=session.config.mode,
        input=session.input,
        target=session.target,
        weights=[w.tolist() for w in session.params.weights],
        biases=[b.tolist() for b in session.params.biases],
        phase=session.phase,
        next_step=PHASE_TABLE[session.phase].next_step,
        step=session.step,
        loss_count=session.step,
        recent_losses=list(session.recent_losses),
        forward=None
        if fwd is None
        else ForwardState(
            pre_activations=[_row(a, row) for a in fwd.pre_activations],
            activations=[_row(h, row) for h in fwd.activations],
            loss=fwd.loss,
            batch_size=int(fwd.targets.shape[0]),
        ),
        backward=None
        if bwd is None
        else BackwardState(
            deltas=[_row(d, row) for d in bwd.deltas],
            weight_gradients=[_matrix(g) for g in bwd.weight_gradients],
            bias_gradients=[_matrix(g) for g in bwd.bias_gradients],
        ),
        previous=None
        if session.phase != "updated" or session.previous is None
        else Parameters(
            weights=[w.tolist() for w in session.previous.weights],
            biases=[b.tolist() for b in session.previous.biases],
        ),
        dataset=None
        if session.data.is_single
        else DatasetState(
            name=session.data.name,
            inputs=session.data.inputs.tolist(),
            targets=session.data.targets.tolist(),
        ),
        sample_index=session.sample_index,
        substep=SubStepState(done=position.done, total=position.total, next=position.next),
        follow_url=follow_url,
    )


class LossesPage(BaseModel):
    """Consecutive losses: ``losses[k]`` is the loss of the forward pass behind update start + k + 1."""

    start: int = Field(description="Index of the first loss returned (0 is the loss behind update 1)")
    losses: list[float] = Field(description="Exact values, in update order; fewer than asked at the end")

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": 0, "losses": [0.2984, 0.2910]}]})


class LossCurve(BaseModel):
    """The min–max curve the page draws: the losses cut into buckets of ``width`` updates (a power of
    two), each with its smallest and largest loss. With ``width`` 1, ``low`` = ``high`` = every loss."""

    count: int = Field(description="Losses summarised (= the session's loss_count)")
    width: int = Field(description="Updates per bucket (the last bucket may hold fewer)")
    steps: list[int] = Field(description="The first update of each bucket (1-based, as `step`)")
    low: list[float] = Field(description="Each bucket's smallest loss")
    high: list[float] = Field(description="Each bucket's largest loss")
    low_steps: list[int] = Field(description="The update each smallest loss belongs to (the first, on ties)")
    high_steps: list[int] = Field(description="The update each largest loss belongs to (the first, on ties)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "count": 3000,
                    "width": 4,
                    "steps": [1, 5, 9],
                    "low": [0.29, 0.28, 0.27],
                    "high": [0.30, 0.29, 0.28],
                    "low_steps": [4, 8, 12],
                    "high_steps": [1, 5, 9],
                }
            ]
        }
    )


def curve_of(envelope: Envelope) -> LossCurve:
    return LossCurve(
        count=envelope.count,
        width=envelope.width,
        steps=[b * envelope.width + 1 for b in range(envelope.buckets)],
        low=envelope.low.tolist(),
        high=envelope.high.tolist(),
        low_steps=(envelope.low_at + 1).tolist(),
        high_steps=(envelope.high_at + 1).tolist(),
    )


class HistoryEntry(BaseModel):
    step: int
    loss: float | None = Field(description="Loss of the forward pass behind this update (null at the start)")

    model_config = ConfigDict(json_schema_extra={"examples": [{"step": 1, "loss": 0.2984}]})


# --------------------------------------------------------------------------------------------
# Show the working (app/explain.py, answers.py, gradcheck.py): /explain, /check, /gradient-check
# --------------------------------------------------------------------------------------------


class ExplainTerm(BaseModel):
    symbol: str = Field(description='A number\'s name in the article\'s notation: "y1", "u21", "δ(2)1", "η"')
    value: float = Field(description="Its value, full precision")


class ExplainEquation(BaseModel):
    """One line of working: `lhs relation symbolic = numeric = result`."""

    lhs: str = Field(description='What the line computes: "∂L/∂u21", "a(1)1", "h1"')
    relation: str = Field(description='"=", or "←" for the update of a parameter')
    symbolic: str = Field(description="The formula in symbols")
    numeric: str = Field(description="The formula with every number substituted (4 significant digits)")
    result: float = Field(description="What the line arrives at, full precision")
    note: str = Field(description='A remark in words ("" if none)')


class ExplainResponse(BaseModel):
    """The working behind one number, in the notation of MATH.md, for the session's current phase."""

    quantity: str = Field(
        description='The quantity derived: "h1", "δ(2)1", "∂L/∂u21", "u21" (new value), "L"'
    )
    kind: QuantityKind
    index: list[int] = Field(description="0-based: [l, j] unit or bias, [l, i, j] weight, [] loss")
    phase: Phase
    title: str = Field(description="One sentence in words")
    terms: list[ExplainTerm] = Field(description="Every number substituted, once each")
    equations: list[ExplainEquation]
    result: float = Field(
        description="The engine's number: activation after forward, δ or gradient after backward, "
        "new value after update"
    )
    mathml: str = Field(description='All lines as one <math display="block"> (MathML, well-formed XML)')

    model_config = ConfigDict(
        json_schema_extra=example(
            lambda: explanation_of(explain.explain(_after_backward(), "weight", (1, 2, 1)))
        )
    )


class CheckResponse(BaseModel):
    correct: bool = Field(description="Whether |value − expected| ≤ tolerance")
    expected: float = Field(description="The result /explain gives for the quantity in the current phase")
    tolerance: float = Field(description="max(5e-4·|expected|, 1e-9): 4 significant digits pass")
    explanation: ExplainResponse

    model_config = ConfigDict(
        json_schema_extra=example(
            lambda: check_of(answers.check(_after_backward(), "weight", (1, 2, 1), 0.0821))
        )
    )


class GradientCheckRow(BaseModel):
    name: str = Field(description='"w11", "u32", "w(2)13", "b(1)2"')
    kind: QuantityKind = Field(description="weight or bias")
    index: list[int]
    backprop: float = Field(description="∂L/∂θ by backpropagation")
    numerical: float = Field(description="(L(θ+ε) − L(θ−ε)) / 2ε")
    difference: float = Field(description="backprop − numerical")
    relative_error: float = Field(description="|difference| / max(|backprop|, |numerical|)")


class GradientCheckResponse(BaseModel):
    """Backprop against central finite differences, at the current parameters on the current batch."""

    epsilon: float
    rows: list[GradientCheckRow] = Field(description="Every weight (layer by layer), then every bias")
    max_abs_difference: float

    model_config = ConfigDict(
        json_schema_extra=example(
            lambda: gradient_check_of(gradcheck.gradient_check(session.create(EXAMPLE_ID)))
        )
    )


# The responses are read off the core's frozen dataclasses attribute by attribute (nested ones
# too): the fields of a response model are exactly the ones it shows.


def explanation_of(derivation: Derivation) -> ExplainResponse:
    return ExplainResponse.model_validate(derivation, from_attributes=True)


def check_of(result: CheckResult) -> CheckResponse:
    return CheckResponse.model_validate(result, from_attributes=True)


def gradient_check_of(check: GradientCheck) -> GradientCheckResponse:
    return GradientCheckResponse.model_validate(check, from_attributes=True)


class RunState(BaseModel):
    """A background training run."""

    state: RunStateName
    epochs: int
    steps_total: int = Field(description="Full steps the run was asked for (epochs × samples in SGD mode)")
    steps_done: int
    loss: float | None = Field(description="Loss of the latest step's forward pass")
    started: float = Field(description="Unix time")
    finished: float | None = Field(description="Unix time, once the run has ended")
    message: str = Field(description="Why the run ended, in words (empty while it runs)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "state": "cancelled",
                    "epochs": 1000,
                    "steps_total": 4000,
                    "steps_done": 1400,
                    "loss": 0.1611,
                    "started": 1767225600.0,
                    "finished": 1767225601.5,
                    "message": "cancelled after 1400 of 4000 steps",
                },
            ]
        }
    )


def run_of(status: RunStatus) -> RunState:
    return RunState.model_validate(status, from_attributes=True)


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = Field(None, description="Why the store cannot be used (when unavailable)")
