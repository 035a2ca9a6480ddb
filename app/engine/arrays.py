"""The array type of the engine, and the mean as numpy computes it."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def mean(values: Array) -> float:
    """The mean as numpy computes it (add.reduce, then divide), without np.mean's overhead."""
    if values.size == 1:  # what add.reduce and a division by 1 would give, for a batch of one
        return float(values.reshape(-1)[0])
    return float(np.add.reduce(values, axis=None)) / values.size
