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


#: The share of |expected| an answer may be off: what rounding to 4 significant digits can cost.
RELATIVE_TOLERANCE = 5e-4
#: The least difference ever accepted, for answers of (nearly) zero.
ABSOLUTE_TOLERANCE = 1e-9


def tolerance_for(expected: float) -> float:
    """max(5·10⁻⁴·|expected|, 10⁻⁹): an answer is right when |value − expected| is at most this.

    Rounding to 4 significant digits moves a number by at most half a unit in its 4th digit, which
    is at most 5·10⁻⁴ of its size, so an answer rounded like the page's numbers passes however
    small the number is (−1.59e-6 wants −1.590e-6, not −7e-7); an answer off in its 4th digit
    by more than rounding does not. The floor 10⁻⁹ only matters for results of exactly (or
    almost) zero. A hand calculation chained through rounded intermediates can lose more than
    this where it subtracts nearly equal numbers (1 − y for y close to 1): carry more digits there.
    Exercise sheets mark their blanks by the same rule (:func:`check`).
    """
    return max(RELATIVE_TOLERANCE * abs(expected), ABSOLUTE_TOLERANCE)


def check(session: Session, kind: str, index: Sequence[int], value: float) -> CheckResult:
    """Mark ``value`` as the quantity explain(session, kind, index) arrives at."""
    if not math.isfinite(value):
        raise InvalidInputError("value: must be a finite number")
    derivation = explain(session, kind, index)
    expected = derivation.result
    tolerance = tolerance_for(expected)
    return CheckResult(abs(value - expected) <= tolerance, expected, tolerance, derivation)
