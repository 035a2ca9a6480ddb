"""Reading the Network tab's architecture form: the body of a new session (the API's
``CreateSession``), or a message for each field at fault. Nothing is made while any field is
wrong, so a refusal never leaves a half-made session behind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.datasets import BUILTIN, DEFAULT_INPUT, DEFAULT_TARGET, Dataset, builtin
from app.engine import ACTIVATIONS, LOSSES, Architecture
from app.errors import InvalidInputError
from app.limits import LEARNING_RATE, MAX_LAYERS, MAX_SEED, MAX_UNITS, MIN_LAYERS, MIN_UNITS
from app.session import Session
from app.web.forms import number_field, whole_number
from app.web.schemas import CreateSession, DatasetTable
from app.web.views.data import fits, network_words, sample_words
from app.web.views.network import KEEP, SINGLE


def parse_layers(raw: str) -> tuple[list[int] | None, str | None]:
    """Layer sizes from "2, 3, 2" (commas, spaces or dashes between them), or a message."""
    words = raw.replace(",", " ").replace("-", " ").replace("–", " ").split()
    if not words:
        return None, "Layer sizes: enter the units of each layer, input first, e.g. 2, 3, 2"
    layers: list[int] = []
    for word in words:
        units = whole_number(word)
        if units is None:
            return None, f"Layer sizes: “{word}” is not a whole number of units"
        layers.append(units)
    if not MIN_LAYERS <= len(layers) <= MAX_LAYERS:
        return None, (
            f"Layer sizes: a network has {MIN_LAYERS} to {MAX_LAYERS} layers "
            f"(input and output included), got {len(layers)}"
        )
    for units in layers:
        if not MIN_UNITS <= units <= MAX_UNITS:
            return None, f"Layer sizes: a layer has {MIN_UNITS} to {MAX_UNITS} units, got {units}"
    return layers, None


def _functions_errors(values: Mapping[str, str]) -> dict[str, str]:
    """The messages for the activations and the loss (a loss may need one output activation)."""
    errors: dict[str, str] = {}
    for name, label in (("activation", "Hidden activation"), ("output_activation", "Output activation")):
        if values.get(name) not in ACTIVATIONS:
            errors[name] = f"{label}: choose one of {', '.join(ACTIVATIONS)}"
    loss = values.get("loss", "")
    if loss not in LOSSES:
        errors["loss"] = f"Loss: choose one of {', '.join(LOSSES)}"
        return errors
    required = LOSSES[loss].requires_output
    if required is not None and values.get("output_activation") != required:
        errors["loss"] = f"Loss: cross-entropy needs a {required} output layer (choose it above)"
    return errors


def _fitted(values: list[float], width: int, defaults: tuple[float, ...]) -> list[float]:
    """``values`` cut to ``width``, or extended with the article's numbers (repeated)."""
    return [values[i] if i < len(values) else defaults[i % len(defaults)] for i in range(width)]


def data_fields(current: Session, choice: str, layers: list[int]) -> tuple[dict[str, Any], str | None]:
    """The data fields of CreateSession for the form's data choice, or a message."""
    data: Dataset = current.data
    if choice == SINGLE or (choice == KEEP and data.is_single):
        return {
            "input": _fitted(current.input, layers[0], DEFAULT_INPUT),
            "target": _fitted(current.target, layers[-1], DEFAULT_TARGET),
        }, None
    if choice in BUILTIN:
        data = builtin(choice)
    elif choice != KEEP:
        return {}, "Data: choose the current data, one sample or a built-in dataset"
    if not fits(tuple(layers), data):
        shape = "-".join(str(n) for n in layers)
        return {}, (
            f"Data: each sample has {sample_words(data)}, but a {shape} network has "
            f"{network_words(tuple(layers))}: change the layer sizes or choose other data"
        )
    if data.name is not None and data.name in BUILTIN:
        return {"dataset": data.name}, None
    return {"dataset": DatasetTable(inputs=data.inputs.tolist(), targets=data.targets.tolist())}, None


def read_architecture(
    current: Session, values: Mapping[str, str]
) -> tuple[CreateSession | None, dict[str, str]]:
    """The new session's body from the form, or the messages to show by field."""
    layers, layers_error = parse_layers(values.get("layers", ""))
    errors = {"layers": layers_error} if layers_error else {}
    errors.update(_functions_errors(values))
    learning_rate, rate_error = number_field(values.get("learning_rate"), "Learning rate", LEARNING_RATE)
    if rate_error:
        errors["learning_rate"] = rate_error
    seed = whole_number(values.get("seed", ""))
    if seed is None or seed > MAX_SEED:
        errors["seed"] = f"Seed: a whole number from 0 to {MAX_SEED}"
    if layers is None or learning_rate is None or seed is None or errors:
        return None, errors
    data, problem = data_fields(current, values.get("data", KEEP), layers)
    if problem:
        return None, {"data": problem}
    try:
        # Validated as the API validates a body (the names are checked there, not typed here).
        body = CreateSession.model_validate(
            {
                "layers": layers,
                "activation": values["activation"],
                "output_activation": values["output_activation"],
                "loss": values["loss"],
                "learning_rate": learning_rate,
                "seed": seed,
                "train_biases": values.get("train_biases") == "on",
                "mode": current.config.mode,
                **data,
            }
        )
        # Checked here, so that a refusal is a message and no session is made.
        Architecture(tuple(layers), body.activation, body.output_activation, body.loss)
    except (ValidationError, InvalidInputError) as exc:
        return None, {"form": _reason(exc)}
    return body, {}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return str(exc)
