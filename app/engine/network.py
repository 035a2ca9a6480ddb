"""A network's shape (:class:`Architecture`) and numbers (:class:`Parameters`), checked on the way in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from app.engine.arrays import Array
from app.engine.functions import ACTIVATIONS, LOSSES, Activation, Loss
from app.errors import DivergenceError, InvalidInputError
from app.limits import LEARNING_RATE, MAX_ABS_VALUE, MAX_LAYERS, MAX_UNITS, MIN_LAYERS, MIN_UNITS

#: The weights and biases as plain floats: ``weights[l][i][j]`` and ``biases[l][j]``.
Rows = tuple[list[list[list[float]]], list[list[float]]]


@dataclass(frozen=True)
class Architecture:
    """The shape of a network and the functions it uses."""

    #: Units per layer, input first: ``(2, 3, 2)`` is the article's network.
    layers: tuple[int, ...] = (2, 3, 2)
    #: Activation of every hidden layer.
    activation: str = "sigmoid"
    #: Activation of the output layer.
    output_activation: str = "sigmoid"
    #: Loss name, a key of :data:`LOSSES`.
    loss: str = "l2"

    def __post_init__(self) -> None:
        if not MIN_LAYERS <= len(self.layers) <= MAX_LAYERS:
            raise InvalidInputError(
                f"layers: a network has {MIN_LAYERS} to {MAX_LAYERS} layers "
                f"(input and output included), got {len(self.layers)}"
            )
        for index, units in enumerate(self.layers):
            if not MIN_UNITS <= units <= MAX_UNITS:
                raise InvalidInputError(
                    f"layers[{index}]: a layer has {MIN_UNITS} to {MAX_UNITS} units, got {units}"
                )
        for which, name in (("activation", self.activation), ("output_activation", self.output_activation)):
            if name not in ACTIVATIONS:
                raise InvalidInputError(
                    f"{which}: unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
                )
        if self.loss not in LOSSES:
            raise InvalidInputError(f"loss: unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        required = LOSSES[self.loss].requires_output
        if required is not None and self.output_activation != required:
            raise InvalidInputError(
                f"loss: {self.loss!r} needs output_activation {required!r}, got {self.output_activation!r}"
            )

    @property
    def depth(self) -> int:
        """Number of weight layers (L): one fewer than the number of unit layers."""
        return len(self.layers) - 1

    def activation_of(self, layer: int) -> Activation:
        """The activation of unit layer ``layer`` (1..depth)."""
        return self._activations[layer]

    @cached_property
    def _activations(self) -> tuple[Activation, ...]:
        # Looked up once per network, not on every layer of every step.
        hidden, output = ACTIVATIONS[self.activation], ACTIVATIONS[self.output_activation]
        return (hidden,) * self.depth + (output,)

    @cached_property
    def loss_function(self) -> Loss:
        return LOSSES[self.loss]


class FlatForms:
    """The parameters again, in the flat forms the kernels use, computed on first use; the kernel
    that makes new parameters from them hands them over, so the next step need not rebuild them."""

    __slots__ = ("rows", "vector")

    def __init__(self, vector: Array | None = None, rows: Rows | None = None) -> None:
        #: Every weight (layer by layer, row-major), then every bias, in one vector.
        self.vector = vector
        #: The weights and biases as plain floats, for the single-sample kernels.
        self.rows = rows


@dataclass(frozen=True)
class Parameters:
    """Weights and biases of every layer (treated as immutable: never written in place)."""

    #: ``weights[l]`` has shape (layers[l], layers[l+1]); entry [i, j] is w_ij of layer l.
    weights: tuple[Array, ...]
    #: ``biases[l]`` has shape (layers[l+1],): the bias of each unit of layer l+1.
    biases: tuple[Array, ...]
    #: The same numbers as a vector and as plain floats (derived; not part of equality).
    flat: FlatForms = field(default_factory=FlatForms, repr=False, compare=False)

    def copy(self) -> Parameters:
        return Parameters(tuple(w.copy() for w in self.weights), tuple(b.copy() for b in self.biases))

    @property
    def vector(self) -> Array:
        """Every weight (layer by layer, row-major), then every bias, in one vector."""
        if self.flat.vector is None:
            self.flat.vector = np.concatenate([*self.weights, *self.biases], axis=None)
        return self.flat.vector

    @property
    def rows(self) -> Rows:
        """The weights and biases as plain floats, for the single-sample kernels."""
        if self.flat.rows is None:
            self.flat.rows = [w.tolist() for w in self.weights], [b.tolist() for b in self.biases]
        return self.flat.rows


def check_finite(name: str, values: Array) -> None:
    """Refuse non-finite values and values beyond ±MAX_ABS_VALUE."""
    # The common case in one comparison (NaN fails it too, and falls through to the messages);
    # a small array is quicker to check as Python floats than through numpy.
    if values.size <= 64:
        flat = values.ravel().tolist()
        if not flat or (max(map(abs, flat)) <= MAX_ABS_VALUE and math.isfinite(sum(flat))):
            return
    elif float(np.abs(values).max()) <= MAX_ABS_VALUE:
        return
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"{name}: every value must be a finite number (no NaN or infinity)")
    raise InvalidInputError(f"{name}: values must lie within ±{MAX_ABS_VALUE:g}")


def make_parameters(
    arch: Architecture,
    weights: Sequence[Sequence[Sequence[float]]],
    biases: Sequence[Sequence[float]],
) -> Parameters:
    """Parameters from nested lists, with every shape and value checked against ``arch``."""
    if len(weights) != arch.depth:
        raise InvalidInputError(
            f"weights: expected {arch.depth} matrices for layers {list(arch.layers)}, got {len(weights)}"
        )
    if len(biases) != arch.depth:
        raise InvalidInputError(
            f"biases: expected {arch.depth} vectors for layers {list(arch.layers)}, got {len(biases)}"
        )
    ws: list[Array] = []
    bs: list[Array] = []
    for l in range(arch.depth):
        rows, cols = arch.layers[l], arch.layers[l + 1]
        matrix = weights[l]
        if len(matrix) != rows or any(len(row) != cols for row in matrix):
            raise InvalidInputError(
                f"weights[{l}]: expected a {rows}×{cols} matrix (rows = units of layer {l})"
            )
        w = np.array(matrix, dtype=np.float64).reshape(rows, cols)
        check_finite(f"weights[{l}]", w)
        if len(biases[l]) != cols:
            raise InvalidInputError(f"biases[{l}]: expected {cols} values, got {len(biases[l])}")
        b = np.array(biases[l], dtype=np.float64).reshape(cols)
        check_finite(f"biases[{l}]", b)
        ws.append(w)
        bs.append(b)
    return Parameters(tuple(ws), tuple(bs))


def init_parameters(arch: Architecture, seed: int) -> Parameters:
    """Seeded initialisation, the scheme of PyTorch's ``nn.Linear``.

    Every weight and bias of layer l is drawn independently from U(−1/√n, 1/√n), where n is the
    number of units feeding it (``layers[l]``), using numpy's PCG64 generator seeded with ``seed``,
    layer by layer, weights (row-major) before biases. Small, random, never all equal, and the same
    numbers for the same seed on every machine.
    """
    rng = np.random.default_rng(seed)
    weights: list[Array] = []
    biases: list[Array] = []
    for l in range(arch.depth):
        bound = 1.0 / np.sqrt(arch.layers[l])
        weights.append(rng.uniform(-bound, bound, size=(arch.layers[l], arch.layers[l + 1])))
        biases.append(rng.uniform(-bound, bound, size=arch.layers[l + 1]))
    return Parameters(tuple(weights), tuple(biases))


def check_learning_rate(learning_rate: float) -> None:
    if learning_rate not in LEARNING_RATE:
        raise InvalidInputError(f"learning_rate: must lie in {LEARNING_RATE}, got {learning_rate}")


def raise_divergence(params: Parameters, vector: Array | None) -> None:
    """Name the first array (weights[0], …, biases[0], …) with a value beyond ±MAX_ABS_VALUE.

    ``params`` gives the shapes; the new values are ``vector`` in that order, or ``params`` itself.
    """
    offset = 0
    for kind, arrays in (("weights", params.weights), ("biases", params.biases)):
        for l, old in enumerate(arrays):
            values = old if vector is None else vector[offset : offset + old.size]
            offset += old.size
            if not float(np.abs(values).max()) <= MAX_ABS_VALUE:
                raise DivergenceError(
                    f"the update would move {kind}[{l}] beyond ±{MAX_ABS_VALUE:g}: training has "
                    "diverged; lower the learning rate or reset"
                )
