"""Scenario reduction: keep ``k`` of ``S`` demand scenarios and move the others' probability onto them.

The LP's time grows about as ``S^1.8`` in the number of scenarios, so a plan over many paths can be
solved on a few well-chosen ones. :func:`reduce_scenarios` is **fast forward selection** (Heitsch &
Römisch, "Scenario reduction algorithms in stochastic programming", Comput. Optim. Appl. 24, 2003):

Each scenario ``i`` is summarised by a feature vector ``x_i``: its mean demand per pool over blocks of
``block_h`` hours (default a week), each pool scaled by ``pool_weights`` (e.g. $/GPU-hour, so that
a GPU of H100 demand counts more than a GPU of A10G). Distances ``c(i, j) = ‖x_i − x_j‖₂``.

1. ``u₁ = argmin_u Σ_i p_i c(i, u)``;
2. with ``c⁽ᵏ⁾(i, u) = min(c⁽ᵏ⁻¹⁾(i, u), c⁽ᵏ⁻¹⁾(i, u_{k−1}))`` for the scenarios not yet kept,
   ``u_k = argmin_u Σ_{i not kept, i ≠ u} p_i c⁽ᵏ⁾(i, u)``, until ``k`` are kept;
3. **redistribution**: each dropped scenario's probability goes to its nearest kept scenario
   (``q_j = p_j + Σ_{i dropped, nearest(i) = j} p_i``), so the kept probabilities sum to 1.

The reduced set minimises, greedily, the Kantorovich distance ``D = Σ_{i dropped} p_i min_j c(i, j)``
to the full set, which :func:`reduction_distance` reports (0 when nothing is dropped). Pure:
the input is not changed; the output is a new :class:`DemandScenarios` whose ``meta`` records the
kept indices and the distance. Cost: ``O(S² · F)`` for the distances (``F`` = blocks × pools), then
``O(k · S²)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from forecasting.scenarios import DemandScenarios
from pricing_data.errors import PlannerInputError

#: a week of hours: the default block over which demand is averaged for the distances
WEEK_H = 168


@dataclass(frozen=True)
class Reduction:
    """Kept scenario indices (into the full set, in selection order), their new probabilities and
    the Kantorovich distance of the reduced set to the full one (in weighted GPUs)."""

    kept: tuple[int, ...]
    probabilities: np.ndarray
    distance: float


def scenario_features(
    scenarios: DemandScenarios,
    *,
    block_h: int = WEEK_H,
    pool_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Per scenario, the mean demand (GPUs) per block of ``block_h`` hours and pool, times the
    pool's weight: shape ``(S, blocks × pools)``. A last partial block is averaged over its hours."""
    if block_h < 1:
        raise PlannerInputError("block length must be at least 1 hour", value=block_h)
    d = scenarios.demand_gpus
    s, h, p = d.shape
    n_blocks = -(-h // block_h)
    sums = np.add.reduceat(d, np.arange(0, h, block_h), axis=1)  # (S, blocks, P)
    lengths = np.diff(np.append(np.arange(0, h, block_h), h)).astype(float)
    means = sums / lengths[None, :, None]
    if pool_weights is not None:
        w = np.asarray(pool_weights, dtype=float)
        if w.shape != (p,) or not np.isfinite(w).all() or (w < 0).any():
            raise PlannerInputError(
                "one non-negative weight per pool is needed",
                value=list(w.shape),
                fix=f"give {p} weights, e.g. the on-demand $/GPU-hour of each pool",
            )
        means = means * w[None, None, :]
    return means.reshape(s, n_blocks * p)


def pairwise_distances(x: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``x`` (``‖a‖² + ‖b‖² − 2ab``, clipped at 0)."""
    sq = np.einsum("ij,ij->i", x, x)
    g = x @ x.T
    d2 = sq[:, None] + sq[None, :] - 2.0 * g
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(np.maximum(d2, 0.0))


def forward_selection(c: np.ndarray, p: np.ndarray, k: int) -> Reduction:
    """Fast forward selection of ``k`` scenarios on the distance matrix ``c`` with probabilities
    ``p`` (see the module docstring); ties go to the lowest index."""
    n = c.shape[0]
    if not 1 <= k <= n:
        raise PlannerInputError(
            "cannot keep that many scenarios", value=k, fix=f"keep between 1 and {n} scenarios"
        )
    cur = c.copy()
    kept: list[int] = []
    free = np.ones(n, dtype=bool)
    for _ in range(k):
        # z_u = Σ_{i free, i ≠ u} p_i cur(i, u), for each free u (cur(u, u) = 0)
        z = (p[free][:, None] * cur[free]).sum(axis=0)
        z[~free] = np.inf
        u = int(np.argmin(z))
        kept.append(u)
        free[u] = False
        cur = np.minimum(cur, cur[:, [u]])  # c(i, ·) <- min(c(i, ·), c(i, u))
    kept_arr = np.array(kept)
    nearest = kept_arr[np.argmin(c[:, kept_arr], axis=1)]
    nearest[kept_arr] = kept_arr  # a kept scenario keeps its own probability
    q = np.bincount(nearest, weights=p, minlength=n)[kept_arr]
    distance = float(np.sum(p * c[np.arange(n), nearest]))
    return Reduction(tuple(int(i) for i in kept), q, distance)


def reduce_scenarios(
    scenarios: DemandScenarios,
    k: int,
    *,
    block_h: int = WEEK_H,
    pool_weights: Sequence[float] | None = None,
) -> DemandScenarios:
    """``k`` scenarios chosen by fast forward selection, with the dropped ones' probability
    reassigned to their nearest kept scenario. ``k >= S`` returns ``scenarios`` unchanged."""
    if k >= scenarios.n_scenarios:
        return scenarios
    x = scenario_features(scenarios, block_h=block_h, pool_weights=pool_weights)
    red = forward_selection(pairwise_distances(x), scenarios.probabilities, k)
    idx = np.array(red.kept)
    probs = red.probabilities / red.probabilities.sum()  # exact sum 1 after float rounding
    return replace(
        scenarios,
        demand_gpus=scenarios.demand_gpus[idx],
        probabilities=probs,
        meta={
            **scenarios.meta,
            "reduction": {
                "method": "fast forward selection",
                "from_scenarios": scenarios.n_scenarios,
                "kept": [int(i) for i in idx],
                "block_h": block_h,
                "distance": red.distance,
            },
        },
    )


def reduction_distance(
    full: DemandScenarios,
    kept: Sequence[int],
    *,
    block_h: int = WEEK_H,
    pool_weights: Sequence[float] | None = None,
) -> float:
    """Kantorovich distance ``Σ_i p_i min_{j ∈ kept} c(i, j)`` of the full set to a kept subset."""
    x = scenario_features(full, block_h=block_h, pool_weights=pool_weights)
    c = pairwise_distances(x)
    return float(np.sum(full.probabilities * c[:, list(kept)].min(axis=1)))
