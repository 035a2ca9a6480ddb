"""The documents the API hands out whole, as OpenAPI models: a session's export (what import takes
back) and a step's Jupyter notebook.

These models describe; they never validate on the way through (an export may hold 2,000,000
losses, and app/codec.py checks an import field by field, with every cap, more cheaply than a model
could). Fields the codec reads as optional are optional here, and unknown fields are allowed, as
the codec ignores them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from app.codec import FORMAT, VERSION
from app.limits import MAX_HISTORY, MAX_LOSS_HISTORY
from app.web.schemas import Activation, LossFunction, Mode, Phase


class DocumentConfig(BaseModel):
    layers: list[int] = Field(description="Units per layer, input first")
    activation: Activation
    output_activation: Activation
    loss: LossFunction
    learning_rate: float
    train_biases: bool
    seed: int
    mode: Mode


class DocumentParameters(BaseModel):
    weights: list[list[list[float]]] = Field(description="weights[l][i][j], as in the session's state")
    biases: list[list[float]]


class DocumentDataset(BaseModel):
    name: str | None = Field(
        None, description="A built-in dataset's name (kept only if the numbers are its own)"
    )
    inputs: list[list[float]]
    targets: list[list[float]]


class DocumentProgress(BaseModel):
    """How far a forward or backward pass in sub-steps has got (layers done)."""

    forward_layers: int | SkipJsonSchema[None] = None
    backward_layers: int | SkipJsonSchema[None] = None


class DocumentSnapshot(BaseModel):
    """A kept state: the parameters right after update ``step``."""

    step: int
    loss: float | None = Field(None, description="Loss of the forward pass behind this update")
    sample_index: int
    params: DocumentParameters
    previous: DocumentParameters | None = None


class PackedHistory(BaseModel):
    """The kept states packed as a store saves them: every parameter vector (and the one before,
    where ``has_previous``) as base64 of little-endian float64, in ``values``."""

    steps: list[int]
    losses: list[float | None]
    sample_indices: list[int]
    has_previous: list[bool]
    values: str


class DocumentOrigin(BaseModel):
    """How the session was made: what Reset goes back to."""

    config: DocumentConfig
    params: DocumentParameters
    dataset: DocumentDataset


class SessionDocument(BaseModel):
    """A whole session: what GET .../export writes and POST /api/sessions/import reads (a new
    session is made from it; the id is not kept). Traces are recomputed from it, every number
    checked, every cap applied as to a session made any other way."""

    format: Literal["backprop-viz.session"] = Field(description=f"Always {FORMAT!r}")
    version: Literal[1] = Field(description=f"The format's version: {VERSION}")
    config: DocumentConfig
    params: DocumentParameters
    previous: DocumentParameters | None = Field(None, description="Before the update (phase updated only)")
    dataset: DocumentDataset
    sample_index: int
    phase: Phase
    substep_mode: bool | SkipJsonSchema[None] = Field(None, description="Whether the page steps in sub-steps")
    progress: DocumentProgress | None = None
    step: int = Field(description="Updates so far")
    loss_trajectory: list[float] | str = Field(
        description=f"The loss of every update (at most {MAX_LOSS_HISTORY:,}); or packed as base64 float64"
    )
    history: list[DocumentSnapshot] | PackedHistory = Field(
        description=f"The kept states (at most {MAX_HISTORY:,}), in increasing step order"
    )
    origin: DocumentOrigin

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "config": {
                        "layers": [2, 1],
                        "activation": "sigmoid",
                        "output_activation": "sigmoid",
                        "loss": "l2",
                        "learning_rate": 0.5,
                        "train_biases": True,
                        "seed": 0,
                        "mode": "sgd",
                    },
                    "params": {"weights": [[[0.3], [-0.2]]], "biases": [[0.1]]},
                    "previous": None,
                    "dataset": {"name": None, "inputs": [[0.05, 0.1]], "targets": [[0.01]]},
                    "sample_index": 0,
                    "phase": "idle",
                    "substep_mode": False,
                    "progress": {"forward_layers": 1, "backward_layers": 1},
                    "step": 0,
                    "loss_trajectory": [],
                    "history": [
                        {
                            "step": 0,
                            "loss": None,
                            "sample_index": 0,
                            "params": {"weights": [[[0.3], [-0.2]]], "biases": [[0.1]]},
                            "previous": None,
                        }
                    ],
                    "origin": {
                        "config": {
                            "layers": [2, 1],
                            "activation": "sigmoid",
                            "output_activation": "sigmoid",
                            "loss": "l2",
                            "learning_rate": 0.5,
                            "train_biases": True,
                            "seed": 0,
                            "mode": "sgd",
                        },
                        "params": {"weights": [[[0.3], [-0.2]]], "biases": [[0.1]]},
                        "dataset": {"name": None, "inputs": [[0.05, 0.1]], "targets": [[0.01]]},
                    },
                }
            ]
        }
    )


class NotebookCell(BaseModel):
    cell_type: Literal["markdown", "code"]
    id: str
    metadata: dict[str, Any]
    source: list[str] = Field(description="The cell's lines")
    execution_count: int | None = Field(None, description="Code cells: null (not run)")
    outputs: list[dict[str, Any]] | None = Field(None, description="Code cells: empty (not run)")


class Notebook(BaseModel):
    """A Jupyter notebook (nbformat 4) that recomputes the session's step with numpy."""

    nbformat: Literal[4]
    nbformat_minor: int
    metadata: dict[str, Any]
    cells: list[NotebookCell]
