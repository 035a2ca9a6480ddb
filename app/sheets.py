"""Exercise sheets: one training step of a preset's network, worked by hand, with an answer key.

A sheet is fully determined by its :class:`SheetSpec` (preset, seed, number of blanks, phases):
the preset gives the architecture, the learning rate and whether biases are trained; the seed
draws the weights, the biases and the one sample, rounded to two decimals so they can be copied by
hand; the same seed then picks which quantities are left blank. Every answer is computed from the
rounded numbers by the engine and :func:`explain.explain`, so the key is exactly what the
visualizer shows for a session built from the sheet's numbers, and grading marks an answer with
:func:`app.answers.check`, the very rule of "check my answer".

A sheet is known by its code, an HMAC of the spec under the server's secret: it reveals neither
the seed nor the key. The key token is a second HMAC, of the code, so whoever holds only the code
(a student) cannot derive it. What a server keeps per sheet is the spec alone (a few bytes) behind
:class:`SheetStore`; everything else is derived again on demand.

This module knows nothing of HTTP; the API and the pages render the same objects.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal, get_args

import numpy as np

from app import explain, presets, session
from app.answers import check
from app.engine import Architecture
from app.errors import InvalidInputError
from app.explain import Derivation
from app.quantity import Kind
from app.session import Phase, Session

SheetPhase = Literal["forward", "backward", "update"]
SHEET_PHASES: tuple[SheetPhase, ...] = get_args(SheetPhase)
#: The session phase in which :func:`explain.explain` gives the value a sheet phase asks for: a
#: unit's activation and the loss after forward; δ and the gradients after backward; the new
#: weights and biases after the update.
SESSION_PHASES: dict[SheetPhase, Phase] = {"forward": "forward", "backward": "backward", "update": "updated"}
MIN_BLANKS, MAX_BLANKS = 1, 20
MAX_SEED = 2**32 - 1
#: Every number given on a sheet is a whole number of hundredths (two decimals).
SCALE = 100
#: Changes whenever the drawing of numbers or blanks changes, so an old code never silently
#: names a different sheet.
SHEET_VERSION = 2
#: Draws tried before a seed's network is taken as it is (see :func:`fair`).
MAX_DRAWS = 200
#: The session id of a sheet's sessions (they are never stored).
SHEET_SESSION_ID = "sheet"


class SheetError(InvalidInputError):
    """A sheet that cannot be made or answers that cannot be marked; the message says why (422)."""


class SheetNotFoundError(LookupError):
    """No sheet with that code: never issued, or expired."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no sheet {code!r} (check the code; sheets expire like sessions)")
        self.code = code


# --------------------------------------------------------------------------------------------
# What a sheet is
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetSpec:
    """Everything a sheet is derived from."""

    #: A key of :data:`presets.PRESETS`.
    preset: str
    #: Draws the numbers and picks the blanks.
    seed: int
    #: How many quantities are left blank.
    blanks: int
    #: Which phases the blanks come from, in step order, each once.
    phases: tuple[SheetPhase, ...] = SHEET_PHASES

    def __post_init__(self) -> None:
        presets.get(self.preset)  # InvalidInputError naming the choices
        if isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED:
            raise SheetError(f"seed: must lie in 0..{MAX_SEED}, got {self.seed}")
        if isinstance(self.blanks, bool) or not MIN_BLANKS <= self.blanks <= MAX_BLANKS:
            raise SheetError(f"blanks: must lie in {MIN_BLANKS}..{MAX_BLANKS}, got {self.blanks}")
        if not self.phases or any(p not in SHEET_PHASES for p in self.phases):
            raise SheetError(f"phases: choose one or more of {', '.join(SHEET_PHASES)}")
        if list(self.phases) != sorted(set(self.phases), key=SHEET_PHASES.index):
            raise SheetError(f"phases: each once, in step order ({', '.join(SHEET_PHASES)})")

    @classmethod
    def of(cls, preset: str, seed: int | None, blanks: int, phases: Sequence[str] | None = None) -> SheetSpec:
        """A spec from what a user gives: phases in any order (all three when omitted), a random
        seed when none is given."""
        chosen = list(phases) if phases is not None else list(SHEET_PHASES)
        unknown = [p for p in chosen if p not in SHEET_PHASES]
        if unknown or not chosen:
            raise SheetError(f"phases: choose one or more of {', '.join(SHEET_PHASES)}, got {chosen!r}")
        ordered = tuple(p for p in SHEET_PHASES if p in chosen)
        return cls(preset, secrets.randbelow(MAX_SEED + 1) if seed is None else seed, blanks, ordered)

    def canonical(self) -> bytes:
        """The spec as bytes, the same on every machine (what the code is an HMAC of)."""
        fields = [SHEET_VERSION, self.preset, self.seed, self.blanks, list(self.phases)]
        return json.dumps(fields, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blank:
    """One quantity a sheet asks for, named as ``/check`` names it, and the phase it belongs to."""

    #: "unit", "weight", "bias" or "loss".
    kind: Kind
    #: 0-based as in MATH.md: (l, j) for a unit or a bias, (l, i, j) for a weight, () for the loss.
    index: tuple[int, ...]
    #: "forward": a unit's activation h, or the loss; "backward": a unit's δ = ∂L/∂a, a weight's or
    #: bias's gradient; "update": a weight's or bias's new value.
    phase: SheetPhase

    def quantity(self) -> dict[str, object]:
        """The JSON name: {"unit": [l, j], "phase": "forward"}, {"loss": true, "phase": "forward"}."""
        name: object = True if self.kind == "loss" else list(self.index)
        return {self.kind: name, "phase": self.phase}


@dataclass(frozen=True)
class Sheet:
    """A sheet derived from its spec: the network at the start of the step and its blanks."""

    spec: SheetSpec
    #: The preset's architecture with the drawn numbers, before any step (phase idle).
    start: Session
    #: The blanks, in the order they are computed in a step.
    blanks: tuple[Blank, ...]

    @property
    def arch(self) -> Architecture:
        return self.start.arch

    @cached_property
    def _stepped(self) -> dict[SheetPhase, Session]:
        forward = session.run_forward(self.start)
        backward = session.run_backward(forward)
        return {"forward": forward, "backward": backward, "update": session.run_update(backward)}

    def session_at(self, phase: SheetPhase) -> Session:
        """The sheet's session in the phase whose numbers ``phase`` asks for."""
        return self._stepped[phase]

    def derivation(self, blank: Blank) -> Derivation:
        """The full working of a blank, as the visualizer shows it."""
        return explain.explain(self.session_at(blank.phase), blank.kind, blank.index)

    def answers(self) -> tuple[tuple[Blank, float], ...]:
        """The key: each blank with the engine's number for it."""
        return tuple((blank, self.derivation(blank).result) for blank in self.blanks)


# --------------------------------------------------------------------------------------------
# Drawing the numbers and the blanks
# --------------------------------------------------------------------------------------------


def _scaled(k: int) -> float:
    # k / 100 is correctly rounded, so it is the very float that typing "0.15" gives.
    return k / SCALE


def _parameter(rng: np.random.Generator) -> float:
    """±0.05 … ±0.99: never zero, never so small that a weight stops mattering."""
    magnitude = int(rng.integers(5, 100))
    return _scaled(magnitude if rng.random() < 0.5 else -magnitude)


def _input(rng: np.random.Generator) -> float:
    return _scaled(int(rng.integers(1, 100)))


def _target(rng: np.random.Generator, output_activation: str) -> float:
    """A target the output can reach: inside (0, 1) for sigmoid, (−1, 1) for tanh."""
    k = int(rng.integers(1, 100))
    signed = output_activation in ("tanh", "linear") and rng.random() < 0.5
    return _scaled(-k if signed else k)


@dataclass(frozen=True)
class Numbers:
    """The numbers a sheet gives, in the shapes of ``session.create``."""

    weights: list[list[list[float]]]
    biases: list[list[float]]
    input: list[float]
    target: list[float]


def _draw(arch: Architecture, rng: np.random.Generator) -> Numbers:
    layers = arch.layers
    weights = [
        [[_parameter(rng) for _ in range(layers[l + 1])] for _ in range(layers[l])] for l in range(arch.depth)
    ]
    biases = [[_parameter(rng) for _ in range(layers[l + 1])] for l in range(arch.depth)]
    inputs = [_input(rng) for _ in range(layers[0])]
    targets = [_target(rng, arch.output_activation) for _ in range(layers[-1])]
    return Numbers(weights, biases, inputs, targets)


#: How far a difference may cancel before a hand calculation carried to 5 significant digits
#: could miss the 0.05 % tolerance: |result| must keep this fraction of the terms it comes from
#: (5-digit terms are off by at most 5e-5 of themselves; a fifth kept makes that at most 2.5e-4).
KEEP_FRACTION = 0.2
#: Smallest |y − t| of an output: below it y − t would be mostly rounding error of y.
MIN_OUTPUT_ERROR = 0.1


def fair(start: Session) -> bool:
    """Whether every blank of this network can be worked by hand to within the check's tolerance.

    Checking my answer accepts 0.05 %; a sum whose terms nearly cancel (y − t with y close to t,
    Σ_k δ_k w_jk with terms of opposite signs, w − η ∂L/∂w close to 0) turns the rounding of its
    terms into a much larger relative error. Such draws are skipped.
    """
    stepped = session.run_update(session.run_backward(session.run_forward(start)))
    fwd, bwd, arch = stepped.forward, stepped.backward, start.arch
    assert fwd is not None and bwd is not None
    y, t = fwd.activation(arch.depth)[0], fwd.targets[0]
    if float(np.min(np.abs(y - t))) < MIN_OUTPUT_ERROR:
        return False
    for layer in range(1, arch.depth):
        terms = bwd.delta(layer + 1)[0] * start.params.weights[layer]  # δ_k w_jk, row j
        if np.any(np.abs(terms.sum(axis=1)) < KEEP_FRACTION * np.abs(terms).sum(axis=1)):
            return False
    old, new = start.params, stepped.params
    for before, after in zip((*old.weights, *old.biases), (*new.weights, *new.biases), strict=True):
        moved = np.abs(after - before)
        if np.any((moved > 0) & (np.abs(after) < KEEP_FRACTION * np.maximum(np.abs(before), moved))):
            return False
    return True


def candidates(arch: Architecture, phases: Sequence[SheetPhase], train_biases: bool) -> tuple[Blank, ...]:
    """Every quantity a sheet may ask for, in the order a step computes them (:func:`build` then
    leaves out updates too small to ask about)."""
    layers, depth = arch.layers, arch.depth
    found: list[Blank] = []
    if "forward" in phases:
        found += [
            Blank("unit", (layer, j), "forward")
            for layer in range(1, depth + 1)
            for j in range(layers[layer])
        ]
        found.append(Blank("loss", (), "forward"))
    if "backward" in phases:
        for layer in range(depth, 0, -1):
            l = layer - 1
            found += [Blank("unit", (layer, j), "backward") for j in range(layers[layer])]
            found += [
                Blank("weight", (l, i, j), "backward") for i in range(layers[l]) for j in range(layers[layer])
            ]
            found += [Blank("bias", (l, j), "backward") for j in range(layers[layer])]
    if "update" in phases:
        for l in range(depth):
            found += [
                Blank("weight", (l, i, j), "update") for i in range(layers[l]) for j in range(layers[l + 1])
            ]
        if train_biases:  # an untrained bias keeps its value: nothing to work out
            found += [Blank("bias", (l, j), "update") for l in range(depth) for j in range(layers[l + 1])]
    return tuple(found)


def _unchanged_passes(start: Session, updated: Session, blank: Blank) -> bool:
    """Whether copying the old value of a parameter would pass as its new value: an update smaller
    than the check's tolerance asks nothing, so it is never a blank."""
    if blank.kind == "weight":
        l, i, j = blank.index
        old = float(start.params.weights[l][i, j])
    else:
        l, j = blank.index
        old = float(start.params.biases[l][j])
    return check(updated, blank.kind, blank.index, old).correct


@lru_cache(maxsize=256)
def build(spec: SheetSpec) -> Sheet:
    """The sheet a spec stands for; the same on every machine.

    The numbers come from numpy's PCG64 seeded with (SHEET_VERSION, seed), weights layer by layer
    (row-major), then biases, the input and the target, drawn again while :func:`fair` refuses
    them; the blanks from a second stream seeded with (SHEET_VERSION, seed, 1), so the same seed
    gives the same network whatever is asked about it.
    """
    fields = presets.get(spec.preset).body()
    arch = Architecture(
        tuple(fields["layers"]), fields["activation"], fields["output_activation"], fields["loss"]
    )
    rng = np.random.default_rng([SHEET_VERSION, spec.seed])
    for _ in range(MAX_DRAWS):
        numbers = _draw(arch, rng)
        start = session.create(
            SHEET_SESSION_ID,
            layers=arch.layers,
            activation=arch.activation,
            output_activation=arch.output_activation,
            loss=arch.loss,
            learning_rate=fields["learning_rate"],
            train_biases=fields["train_biases"],
            mode="sgd",
            weights=numbers.weights,
            biases=numbers.biases,
            input=numbers.input,
            target=numbers.target,
        )
        if fair(start):
            break
    updated = session.run_update(session.run_backward(session.run_forward(start)))
    pool = [
        blank
        for blank in candidates(arch, spec.phases, start.config.train_biases)
        if blank.phase != "update" or not _unchanged_passes(start, updated, blank)
    ]
    if spec.blanks > len(pool):
        raise SheetError(
            f"blanks: the {spec.preset} network has {len(pool)} quantities in the phases "
            f"{', '.join(spec.phases)}; ask for at most that many, got {spec.blanks}"
        )
    picker = np.random.default_rng([SHEET_VERSION, spec.seed, 1])
    chosen = sorted(int(k) for k in picker.permutation(len(pool))[: spec.blanks])
    return Sheet(spec, start, tuple(pool[k] for k in chosen))


# --------------------------------------------------------------------------------------------
# Marking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One blank marked."""

    blank: Blank
    #: Whether an answer was given for it.
    answered: bool
    #: Whether the answer passes :func:`app.answers.check` (False when unanswered).
    correct: bool


def collect(sheet: Sheet, answers: Sequence[tuple[Blank, float]]) -> dict[Blank, float]:
    """The answers by blank; SheetError for a quantity that is not a blank or is answered twice."""
    by_blank: dict[Blank, float] = {}
    asked = set(sheet.blanks)
    for blank, value in answers:
        if blank not in asked:
            raise SheetError(f"answers: {json.dumps(blank.quantity())} is not a blank of this sheet")
        if blank in by_blank:
            raise SheetError(f"answers: {json.dumps(blank.quantity())} is answered twice")
        if not math.isfinite(value):
            raise SheetError(f"answers: the value for {json.dumps(blank.quantity())} must be a finite number")
        by_blank[blank] = value
    return by_blank


def grade(sheet: Sheet, answers: Sequence[tuple[Blank, float]]) -> tuple[Mark, ...]:
    """One mark per blank, in the sheet's order, by the rule of check my answer."""
    given = collect(sheet, answers)
    marks: list[Mark] = []
    for blank in sheet.blanks:
        value = given.get(blank)
        if value is None:
            marks.append(Mark(blank, answered=False, correct=False))
            continue
        result = check(sheet.session_at(blank.phase), blank.kind, blank.index, value)
        marks.append(Mark(blank, answered=True, correct=result.correct))
    return tuple(marks)


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def parse_answer(text: str) -> float:
    """A number typed on paper's terms: "0.1234", "0,1234" (decimal comma), "−0.5", "1.2e-3".

    ValueError (with a message for the form) for anything else: thousands separators, words,
    infinities.
    """
    compact = text.strip().replace("−", "-").replace(" ", "")
    if len(compact) > 40 or not _NUMBER.fullmatch(compact):
        raise ValueError(f"“{text.strip()}” is not a number (write e.g. 0.1234 or 0,1234)")
    value = float(compact.replace(",", "."))
    if not math.isfinite(value):
        raise ValueError("the number is too large")
    return value
