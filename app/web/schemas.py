"""The JSON API's request models and the names its requests and answers share (enumerations,
the error body); they document themselves at /docs.

Every request model is strict, so a body means what it says: a number is a JSON number (not
``true``, not ``"10"``), a whole number a JSON integer (not ``1.5``), a flag ``true`` or ``false``
(not ``"no"``). Every list is bounded by app/limits.py, and the bound is checked on the list's
length before any item is looked at, so a 500,000-item array costs one error, at once. Unknown
fields are refused in one error per object, however many there are.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from app.datasets import Dataset, make_dataset
from app.limits import (
    LEARNING_RATE,
    MAX_LAYERS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_TRAIN_EPOCHS,
    MAX_UNITS,
    MAX_VALIDATION_ERRORS,
    MIN_LAYERS,
    MIN_UNITS,
    VALUE,
)

# --------------------------------------------------------------------------------------------
# Names: enumerations in the schema, so that a generated client has a type for each
# (tests/web/test_schemas.py holds them equal to the core's names)
# --------------------------------------------------------------------------------------------


class Activation(StrEnum):
    """An activation function (app/engine/functions.py)."""

    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"
    LINEAR = "linear"


class LossFunction(StrEnum):
    """l2 = ½Σ(y−t)²; bce = binary cross-entropy (sigmoid outputs only)."""

    L2 = "l2"
    BCE = "bce"


class DatasetName(StrEnum):
    """A built-in dataset (app/datasets.py)."""

    XOR = "xor"
    AND = "and"
    OR = "or"
    BLOBS = "blobs"
    CIRCLE = "circle"


class Mode(StrEnum):
    """sgd: one sample per step, in turn; batch: the mean gradient over all samples."""

    SGD = "sgd"
    BATCH = "batch"


class PresetName(StrEnum):
    """A preset (GET /api/presets)."""

    ARTICLE = "article"
    MAZUR = "mazur"
    XOR = "xor"


class Phase(StrEnum):
    """Where a session stands in its step: idle, part-way through forward (forwarding) or backward
    (backwarding) in sub-steps, after forward, after backward, or after an update."""

    IDLE = "idle"
    FORWARDING = "forwarding"
    FORWARD = "forward"
    BACKWARDING = "backwarding"
    BACKWARD = "backward"
    UPDATED = "updated"


class Step(StrEnum):
    """One of the three coarse steps."""

    FORWARD = "forward"
    BACKWARD = "backward"
    UPDATE = "update"


class QuantityKind(StrEnum):
    """What a derivation or a gradient-check row is about."""

    UNIT = "unit"
    WEIGHT = "weight"
    BIAS = "bias"
    LOSS = "loss"


class RunStateName(StrEnum):
    """A background run: running, or how it ended."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    DIVERGED = "diverged"
    FAILED = "failed"


# --------------------------------------------------------------------------------------------
# Bounded values
# --------------------------------------------------------------------------------------------


def _integral(value: Any) -> Any:
    """A JSON number with no fraction (5.0) as the whole number it is; anything else as it came,
    for the strict check (which refuses 1.5, "5" and true)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A whole number as JSON Schema has it: 5 and 5.0, never 1.5, "5" or true.
Whole = Annotated[int, BeforeValidator(_integral)]
#: A number a user may give: a JSON number, finite and within ±1e6.
Value = Annotated[float, Field(allow_inf_nan=False, ge=VALUE.low, le=VALUE.high)]
LearningRate = Annotated[float, Field(gt=LEARNING_RATE.low, le=LEARNING_RATE.high, allow_inf_nan=False)]
Units = Annotated[Whole, Field(ge=MIN_UNITS, le=MAX_UNITS)]
#: One layer's numbers (an input, a target, a bias vector, a weight matrix's row).
Vector = Annotated[list[Value], Field(min_length=MIN_UNITS, max_length=MAX_UNITS)]
#: A weight matrix: a row per unit of the layer it leaves.
Matrix = Annotated[list[Vector], Field(min_length=MIN_UNITS, max_length=MAX_UNITS)]
#: One matrix (or vector) per pair of adjacent layers.
Matrices = Annotated[list[Matrix], Field(min_length=MIN_LAYERS - 1, max_length=MAX_LAYERS - 1)]
Vectors = Annotated[list[Vector], Field(min_length=MIN_LAYERS - 1, max_length=MAX_LAYERS - 1)]
#: A dataset's rows.
Rows = Annotated[list[Vector], Field(min_length=1, max_length=MAX_SAMPLES)]
# The same names in requests, as literal strings (what the core takes).
ActivationName = Literal["sigmoid", "tanh", "relu", "linear"]
LossName = Literal["l2", "bce"]
DatasetChoice = Literal["xor", "and", "or", "blobs", "circle"]
ModeName = Literal["sgd", "batch"]
PresetChoice = Literal["article", "mazur", "xor"]


class Strict(BaseModel):
    """A request body: strict types, bounded lists, and unknown fields refused (so a typo never
    passes silently), each named where it is; past MAX_VALIDATION_ERRORS of them, in one error."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _not_too_many_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = cls.model_fields.keys()
            unknown = len(data.keys() - known)
            if unknown > MAX_VALIDATION_ERRORS:
                # The first few in the body's order: never a walk over all of a hostile body's keys.
                named = ", ".join(
                    repr(key) for key in itertools.islice((k for k in data if k not in known), 5)
                )
                raise PydanticCustomError(
                    "extra_forbidden",
                    "{count} unknown fields ({named}, …); the fields are: {fields}",
                    {"count": f"{unknown:,}", "named": named, "fields": ", ".join(known)},
                )
        return data


class DatasetTable(Strict):
    """A user-entered table of samples: one target row per input row."""

    inputs: Rows
    targets: Rows

    def to_dataset(self) -> Dataset:
        return make_dataset(self.inputs, self.targets, name=None)


def dataset_of(value: DatasetChoice | DatasetTable | None) -> str | Dataset | None:
    return value.to_dataset() if isinstance(value, DatasetTable) else value


class CreateSession(Strict):
    """Every field is optional: the default is the article's 2-3-2 sigmoid network with L2 loss."""

    layers: list[Units] | None = Field(
        None,
        min_length=MIN_LAYERS,
        max_length=MAX_LAYERS,
        description="Units per layer, input first. Default [2, 3, 2]; with a dataset, [inputs, 3, targets].",
    )
    activation: ActivationName = Field("sigmoid", description="Activation of the hidden layers.")
    output_activation: ActivationName = Field("sigmoid", description="Activation of the output layer.")
    loss: LossName = Field("l2", description="l2 = ½Σ(y−t)²; bce = binary cross-entropy (sigmoid outputs).")
    learning_rate: LearningRate = 0.5
    seed: Whole = Field(0, ge=0, le=MAX_SEED, description="Seed of the initial weights.")
    weights: Matrices | None = Field(
        None, description="weights[l][i][j] joins unit i of layer l to unit j of layer l+1."
    )
    biases: Vectors | None = Field(None, description="biases[l][j] belongs to unit j of layer l+1.")
    input: Vector | None = Field(None, description="The sample's input x (default [0.05, 0.1]).")
    target: Vector | None = Field(None, description="The sample's target t (default [0.01, 0.99]).")
    train_biases: bool = True
    dataset: DatasetChoice | DatasetTable | None = Field(
        None, description="A built-in dataset name, or a table {inputs, targets}, instead of input/target."
    )
    mode: ModeName = Field("sgd", description="sgd: one sample per step; batch: mean gradient over all.")
    preset: PresetChoice | None = Field(
        None,
        description="A preset's name (see GET /api/presets): its fields are the base and the fields "
        "given here override them. Giving `dataset` replaces the preset's `input`/`target` (and the "
        "other way round); giving `layers` drops the preset's `weights`/`biases` (drawn from the seed).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {"layers": [2, 3, 2], "seed": 1, "input": [0.05, 0.1], "target": [0.01, 0.99]},
                {"dataset": "xor", "layers": [2, 4, 1], "learning_rate": 2.0, "mode": "batch"},
                {"preset": "mazur"},
                {"preset": "xor", "learning_rate": 1.0},
            ]
        },
    )


class EditSession(Strict):
    """Any subset of these; the traces are cleared and the phase returns to idle."""

    learning_rate: LearningRate | None = None
    input: Vector | None = None
    target: Vector | None = None
    weights: Matrices | None = None
    biases: Vectors | None = None
    train_biases: bool | None = None
    dataset: DatasetChoice | DatasetTable | None = None
    mode: ModeName | None = None
    sample_index: Whole | None = Field(None, ge=0, lt=MAX_SAMPLES)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"learning_rate": 0.1}, {"input": [1.0, 0.0], "target": [1.0, 0.0]}]},
    )


class TrainRequest(Strict):
    epochs: Whole = Field(
        ge=1, le=MAX_TRAIN_EPOCHS, description="Passes over the data (full steps per sample)."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"epochs": 1000}]})


#: A 0-based index as in MATH.md: whole numbers only ("1" and true are refused), at most three (the
#: session says which exist).
Index = Annotated[list[Whole], Field(min_length=1, max_length=3)]


class CheckRequest(Strict):
    """Exactly one of weight, bias, unit (or loss: true), and the value worked out by hand."""

    weight: Index | None = Field(None, description="[l, i, j]")
    bias: Index | None = Field(None, description="[l, j]")
    unit: Index | None = Field(None, description="[l, j]; [0, i] is input x_i")
    loss: bool = Field(False, description="true to check the loss L")
    value: float = Field(allow_inf_nan=False, description="The answer to check")

    model_config = ConfigDict(json_schema_extra={"examples": [{"weight": [1, 2, 1], "value": 0.0821}]})


class ErrorBody(BaseModel):
    """A refusal: what is wrong, in words. A refused request changes nothing."""

    detail: str = Field(description="What is wrong, in words")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "backward needs phase forward: run forward first"}]}
    )


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(
        description='Where: "body", then the field and its index, e.g. ["body", "layers", 0]'
    )
    msg: str = Field(description="What is wrong there")


class ValidationErrorBody(ErrorBody):
    """Invalid input. A request that does not fit the schema lists the first errors found (at most
    20) and how many there were; a value the schema cannot judge (a shape that does not fit the
    network, say) has the detail alone."""

    errors: list[ValidationErrorItem] = Field(default_factory=list, max_length=20)
    error_count: int = Field(1, description="How many errors were found (more than listed when above 20)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "learning_rate: Input should be a valid number",
                    "errors": [{"loc": ["body", "learning_rate"], "msg": "Input should be a valid number"}],
                    "error_count": 1,
                }
            ]
        }
    )
