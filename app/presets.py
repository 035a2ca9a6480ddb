"""Named starting points: a network, its numbers and its data, each with where it comes from.

A preset's ``fields`` are exactly the body ``POST /api/sessions`` accepts (see
``app.web.schemas.CreateSession``), so the page, the API and :func:`create_from_preset` build the same
session from it.

Matt Mazur's worked example, in this codebase's conventions. The post names the weights w1 … w8
by the unit they leave and the unit they reach; here ``weights[l][i][j]`` joins unit i of layer l
to unit j of layer l+1, so w1 (i1→h1) is ``weights[0][0][0]``, w2 (i2→h1) ``weights[0][1][0]``,
w3 (i1→h2) ``weights[0][0][1]``, w4 (i2→h2) ``weights[0][1][1]``, and likewise w5 … w8 in
``weights[1]``. The post has one bias per layer (b1 = 0.35, b2 = 0.60) shared by its units and never
updated: the same network as two equal biases per layer with ``train_biases`` false, since a bias
that never changes cannot tell whether it is shared. Known inconsistencies of the published figures
(checked in tests/test_presets.py):

- "the total error is now down to 0.291027924" after the first round: with the published updated
  weights (and the unchanged biases) the error is 0.291027774 (0.2910277737 to 10 digits, the same
  from the exact and from the published rounded weights), 1.5e-7 below the post's figure; no
  reading of the post (updating only one layer, updating the shared biases) gives its number.
- "after repeating this process 10,000 times … the error plummets to 0.0000351085": that is the
  error of the 10,000th forward pass, the one behind the 10,000th update, i.e. after 9,999 updates
  (this engine's ``loss_history[-1]`` after 10,000 steps is 3.510854812e-05, a match). After the
  10,000th update the error is 3.51018778e-05. The outputs the post gives at that point,
  0.015912196 and 0.984065734, match no step: that pass gives 0.015914185 and 0.984063712, and the
  next one 0.015913620 and 0.984064274.
- Biases: the post explains that updating them is left out; with ``train_biases`` true the same
  10,000 updates reach an error of about 2.45e-06 instead.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from app import session
from app.datasets import DEFAULT_INPUT, DEFAULT_TARGET
from app.errors import InvalidInputError
from app.session import DEFAULT_LEARNING_RATE, DEFAULT_SEED, Session

#: Epochs after which the "xor" preset is verified (tests/test_presets.py) to have learnt XOR: every
#: output on the right side of 0.5 and a mean loss below 0.02. It first gets there after 750.
XOR_EPOCHS = 2000


@dataclass(frozen=True)
class Preset:
    """A named starting point for a session."""

    #: The key in :data:`PRESETS` and in URLs.
    name: str
    #: A short title for the picker.
    title: str
    #: One line on what it shows.
    description: str
    #: Where the numbers come from.
    citation: str
    #: The body of ``POST /api/sessions`` (read-only; :meth:`body` gives a copy to change).
    fields: Mapping[str, Any]
    #: Epochs of training after which it is known to have learnt its task (None: no such task).
    train_epochs: int | None = None

    def body(self) -> dict[str, Any]:
        """A deep copy of ``fields``: a JSON-ready dict for ``POST /api/sessions``."""
        return copy.deepcopy(dict(self.fields))


def _preset(
    name: str,
    title: str,
    description: str,
    citation: str,
    fields: dict[str, Any],
    train_epochs: int | None = None,
) -> Preset:
    return Preset(name, title, description, citation, MappingProxyType(fields), train_epochs)


ARTICLE = _preset(
    "article",
    "The article's network",
    "The 2-3-2 sigmoid network of the source article, L2 loss, one sample, seeded weights.",
    'Iliya Valchanov, "Backpropagation. A peek into the mathematics of optimization", '
    "365 Data Science, 2 May 2023",
    {
        "layers": [2, 3, 2],
        "activation": "sigmoid",
        "output_activation": "sigmoid",
        "loss": "l2",
        "learning_rate": DEFAULT_LEARNING_RATE,
        "seed": DEFAULT_SEED,
        "input": list(DEFAULT_INPUT),
        "target": list(DEFAULT_TARGET),
        "train_biases": True,
        "mode": "sgd",
    },
)

MAZUR = _preset(
    "mazur",
    "Mazur's worked example",
    "The 2-2-2 network whose every number is worked by hand in Matt Mazur's post; biases stay fixed.",
    'Matt Mazur, "A Step by Step Backpropagation Example", 2015, '
    "https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/",
    {
        "layers": [2, 2, 2],
        "activation": "sigmoid",
        "output_activation": "sigmoid",
        "loss": "l2",
        "learning_rate": 0.5,
        "seed": DEFAULT_SEED,
        # weights[0] = [[w1, w3], [w2, w4]], weights[1] = [[w5, w7], [w6, w8]]
        "weights": [[[0.15, 0.25], [0.20, 0.30]], [[0.40, 0.50], [0.45, 0.55]]],
        # b1 for both hidden units, b2 for both outputs
        "biases": [[0.35, 0.35], [0.60, 0.60]],
        "input": [0.05, 0.10],
        "target": [0.01, 0.99],
        "train_biases": False,
        "mode": "sgd",
    },
)

XOR = _preset(
    "xor",
    "XOR",
    f"A 2-4-1 sigmoid network that learns XOR from all four samples at once within {XOR_EPOCHS} epochs.",
    "XOR, which no single-layer network can compute: Minsky and Papert, Perceptrons (1969); learnt "
    'with a hidden layer in Rumelhart, Hinton and Williams, "Learning internal representations by '
    'error propagation", Parallel Distributed Processing, vol. 1 (1986)',
    {
        "layers": [2, 4, 1],
        "activation": "sigmoid",
        "output_activation": "sigmoid",
        "loss": "l2",
        "learning_rate": 2.0,
        "seed": DEFAULT_SEED,
        "dataset": "xor",
        "train_biases": True,
        "mode": "batch",
    },
    train_epochs=XOR_EPOCHS,
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (ARTICLE, MAZUR, XOR)}


def get(name: str) -> Preset:
    """A preset by name; InvalidInputError naming the choices if there is none."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInputError(
            f"preset: unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None


def create_from_preset(session_id: str, name: str) -> Session:
    """A new session built from a preset's fields."""
    return session.create(session_id, **get(name).body())
