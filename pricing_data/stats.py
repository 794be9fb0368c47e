"""Small statistics shared by every package (the base package, so every other one may import it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def weighted_quantile(
    values: np.ndarray | Sequence[float], weights: np.ndarray | Sequence[float], q: float
) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total weight (NaN when empty)."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if v.size == 0:
        return float("nan")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    return float(v[order][min(int(np.searchsorted(cum, q - 1e-12)), v.size - 1)])
