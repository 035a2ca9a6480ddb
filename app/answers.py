"""Check my answer: a number a learner worked out by hand against the one the working arrives at."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import InvalidInputError
from app.explain import Derivation, explain
from app.session import Session


@dataclass(frozen=True)
class CheckResult:
    """A learner's number against the engine's."""

    #: Whether |value − expected| ≤ tolerance.
    correct: bool
    #: The result :func:`explain` gives for the quantity in the current phase.
    expected: float
    #: The largest difference accepted (see :func:`tolerance_for`).
    tolerance: float
    #: The working, to show after the answer.
    explanation: Derivation


def tolerance_for(expected: float) -> float:
    """max(10⁻³·|expected|, 10⁻⁶).

    Rounding to 4 significant digits moves a number by at most half a unit in the 4th digit, which
    is at most 5·10⁻⁴ of its size, so an answer rounded like the page's numbers always passes; an
    answer 1 % off never does. Near zero the absolute floor 10⁻⁶ takes over. A hand calculation
    chained through rounded intermediates can lose more than that where it subtracts nearly equal
    numbers (1 − y for y close to 1): carry more digits there.
    """
    return max(1e-3 * abs(expected), 1e-6)


def check(session: Session, kind: str, index: Sequence[int], value: float) -> CheckResult:
    """Mark ``value`` as the quantity explain(session, kind, index) arrives at."""
    if not math.isfinite(value):
        raise InvalidInputError("value: must be a finite number")
    derivation = explain(session, kind, index)
    expected = derivation.result
    tolerance = tolerance_for(expected)
    return CheckResult(abs(value - expected) <= tolerance, expected, tolerance, derivation)
