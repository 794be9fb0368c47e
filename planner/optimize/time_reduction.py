"""Time reduction: hourly demand paths grouped into weighted slices before the LP.

The horizon's hours ``h = 0 .. H-1`` are cut into *periods* (calendar months or quarters from the
start, further split at every extra boundary given, e.g. purchase dates and commitment start/end
dates, so that the set of active commitments is constant inside a period). Each period is then
reduced to slices ``t`` with a weight ``weight_h[t]`` in hours; the weights of a period sum to its
hours, so the weights of all slices sum to ``H``. A slice's demand is the mean demand of its hours.

Methods
    ``duration_curve`` (blocks, the default): in each scenario, period and pool, hours are sorted by
    that pool's demand and cut into ``blocks`` consecutive groups (a stepwise duration curve per
    pool); slice t holds every pool's t-th block. Exact in distribution for a commitment
    that serves one pool; for one shared by several pools (a Compute SP) it assumes their peaks
    coincide, which understates how well the shared commitment is used (a cautious error).
    Where the blocks are cut (``split``): "equal" (the default) cuts nearly equal numbers of
    hours; "variance" puts the cuts where they minimise the within-block sum of squares of the
    sorted curves, summed over scenarios and pools (each pool's curve divided by its mean, so every
    pool counts alike): an optimal 1-D partition (dynamic programming over the cut positions, the
    same cuts for every scenario and pool, as a slice has one weight). Measured
    (bench/duration_curve_bias.py, bench/RESULTS-whole-term.md), "variance" lowers the
    overstatement for commitments sized near the peak but raises it near the median, and on the
    real Helios trace it is worse overall, so it is not the default.
    ``joint_duration_curve``: the same, but hours sorted by total demand over pools, so a slice is a
    set of real hours; per-pool variation inside a block is averaged away (an optimistic error
    for single-pool commitments when pools move independently).
    Slice sizes are the same in every scenario; which hours fall in a slice differs per scenario.
    ``typical_days``: in each period, one slice per hour of day (UTC): the mean day.
    ``hourly``: every hour its own slice (no reduction; the reference).

A linear cost of demand is kept exactly by every method; what is lost is the spread of demand inside a
slice (``min(capacity, demand)`` is concave, so averaging overstates commitment use a little:
min(mean demand, level) ≥ mean(min(demand, level))). :func:`utilisation_bias` measures that
overstatement at given commitment levels; ``bench/duration_curve_bias.py`` reports it for the
example and a real trace, and ``bench/optimizer_time_reduction.py`` the error of whole plans against
full hourly resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.valuation import ValuationPaths
from pricing_data.errors import PlannerInputError

METHODS = ("duration_curve", "joint_duration_curve", "typical_days", "hourly")


@dataclass(frozen=True)
class TimeSlices:
    """Weighted slices: ``demand_gpus`` (n_scenarios, n_slices, n_pools), ``weight_h`` (n_slices,),
    ``slice_period`` (n_slices,) and periods ``[period_start_h, period_end_h)`` in hours from start."""

    start: pd.Timestamp
    n_hours: int
    method: str
    period_start_h: np.ndarray
    period_end_h: np.ndarray
    slice_period: np.ndarray
    weight_h: np.ndarray
    demand_gpus: np.ndarray

    @property
    def n_slices(self) -> int:
        return int(self.weight_h.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.period_start_h.shape[0])


def hours_between(start: pd.Timestamp, ts: pd.Timestamp) -> int:
    """Whole hours from ``start`` to ``ts`` (rounded down)."""
    return int((pd.Timestamp(ts) - pd.Timestamp(start)) // pd.Timedelta(hours=1))


def period_boundaries(
    start: pd.Timestamp, n_hours: int, period: str, extra_h: Iterable[int] = ()
) -> np.ndarray:
    """Sorted hour offsets 0 = b0 < b1 < ... < bk = n_hours cutting the horizon into periods."""
    step = {"month": 1, "quarter": 3}.get(period)
    if step is None:
        raise PlannerInputError("unknown period", value=period, fix="use month or quarter")
    cuts = {0, n_hours}
    k = step
    while True:
        h = hours_between(start, pd.Timestamp(start) + pd.DateOffset(months=k))
        if h >= n_hours:
            break
        cuts.add(h)
        k += step
    cuts.update(int(h) for h in extra_h if 0 < int(h) < n_hours)
    return np.array(sorted(cuts), dtype=np.int64)


def reduce_time(
    demand_gpus: np.ndarray,
    start: pd.Timestamp,
    *,
    method: str = "duration_curve",
    period: str = "month",
    blocks: int = 4,
    extra_boundaries_h: Iterable[int] = (),
    split: str = "equal",
) -> TimeSlices:
    """Reduce ``demand_gpus`` (n_scenarios, n_hours, n_pools) to weighted slices (module docstring)."""
    if method not in METHODS:
        raise PlannerInputError(
            "unknown time reduction", value=method, fix="use " + ", ".join(METHODS)
        )
    d = np.asarray(demand_gpus, dtype=float)
    n_s, n_h, n_p = d.shape
    bounds = period_boundaries(start, n_h, period, extra_boundaries_h)
    ts = pd.date_range(pd.Timestamp(start), periods=n_h, freq="h")
    hour_of_day = np.asarray(ts.hour, dtype=np.int64)
    weights: list[np.ndarray] = []
    periods: list[np.ndarray] = []
    demands: list[np.ndarray] = []
    for k in range(len(bounds) - 1):
        a, b = int(bounds[k]), int(bounds[k + 1])
        seg = d[:, a:b, :]
        n = b - a
        if method == "hourly":
            weights.append(np.ones(n))
            demands.append(seg)
        elif method in ("duration_curve", "joint_duration_curve"):
            nb = min(blocks, n)
            if method == "duration_curve":
                srt = -np.sort(-seg, axis=1, kind="stable")
            else:
                total = seg.sum(axis=2)
                order = np.argsort(-total, axis=1, kind="stable")
                srt = np.take_along_axis(seg, order[:, :, None], axis=1)
            if split == "variance":
                sizes = variance_split(srt, nb)
            else:
                sizes = np.array([len(x) for x in np.array_split(np.arange(n), nb)])
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            sums = np.add.reduceat(srt, starts, axis=1)
            weights.append(sizes.astype(float))
            demands.append(sums / sizes[None, :, None])
        else:  # typical_days
            hod = hour_of_day[a:b]
            present = np.unique(hod)
            w = np.array([(hod == h).sum() for h in present], dtype=float)
            means = np.stack([seg[:, hod == h, :].mean(axis=1) for h in present], axis=1)
            weights.append(w)
            demands.append(means)
        periods.append(np.full(len(weights[-1]), k, dtype=np.int64))
    return TimeSlices(
        start=pd.Timestamp(start),
        n_hours=n_h,
        method=method,
        period_start_h=bounds[:-1].copy(),
        period_end_h=bounds[1:].copy(),
        slice_period=np.concatenate(periods),
        weight_h=np.concatenate(weights),
        demand_gpus=np.concatenate(demands, axis=1) if demands else np.zeros((n_s, 0, n_p)),
    )


def variance_split(sorted_gpus: np.ndarray, blocks: int) -> np.ndarray:
    """Block sizes (``blocks`` of them, ≥ 1 hour each, summing to n) that cut sorted curves
    ``sorted_gpus`` (S, n, P; hours in the same order in every curve) where the within-block sum of
    squares, summed over scenarios and pools of curves scaled by their pool's mean, is least
    (module docstring). Exact dynamic programming: cost(i, j) of a block of hours [i, j) is
    Σ (x² summed) − (x summed)² / (j − i), from prefix sums; O(blocks · n²)."""
    d = np.asarray(sorted_gpus, dtype=float)
    n = d.shape[1]
    nb = max(1, min(blocks, n))
    if nb == 1:
        return np.array([n])
    if nb == n:
        return np.ones(n, dtype=np.int64)
    mean = d.mean(axis=(0, 1))
    x = d / np.where(mean > 1e-12, mean, 1.0)[None, None, :]
    flat = np.moveaxis(x, 1, 0).reshape(n, -1)  # hours × (scenario, pool)
    c1 = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])  # (n+1, m)
    c2 = np.concatenate([[0.0], np.cumsum((flat**2).sum(axis=1))])  # (n+1,)
    sq = (c1**2).sum(axis=1)
    gram = c1 @ c1.T
    dist = sq[:, None] + sq[None, :] - 2.0 * gram  # |c1_j − c1_i|²
    length = np.arange(n + 1)[None, :] - np.arange(n + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (c2[None, :] - c2[:, None]) - dist / length
    cost[length <= 0] = np.inf
    cost = np.maximum(cost, 0.0)
    best = cost[0].copy()  # best[j]: least cost of hours [0, j) in k blocks (k = 1)
    back = np.zeros((nb, n + 1), dtype=np.int64)
    for k in range(1, nb):
        total = best[:, None] + cost  # split at i, last block [i, j)
        arg = np.argmin(total, axis=0)
        back[k] = arg
        best = total[arg, np.arange(n + 1)]
    cuts = [n]
    for k in range(nb - 1, 0, -1):
        cuts.append(int(back[k, cuts[-1]]))
    edges = np.array([0, *reversed(cuts)])
    sizes = np.diff(edges)
    if (sizes < 1).any() or sizes.sum() != n:  # numerically degenerate (flat curves): equal
        sizes = np.array([len(c) for c in np.array_split(np.arange(n), nb)])
    return np.asarray(sizes, dtype=np.int64)


def utilisation_bias(
    demand_gpus: np.ndarray,
    slices: TimeSlices,
    levels_gpus: np.ndarray,
    probabilities: np.ndarray | None = None,
) -> np.ndarray:
    """The duration-curve overstatement of commitment use, per pool and level: for a commitment of
    ``levels_gpus[p, j]`` GPUs dedicated to pool p, the GPU-hours the slices credit it with,
    Σ_t w_t min(D̄_{s,t,p}, L), over those the hours give, Σ_h min(D_{s,h,p}, L), minus 1
    (expected over scenarios). ``slices`` must be a reduction of ``demand_gpus`` (n_s, n_h, n_p)
    over the same hours; returns (n_p, n_levels), ≥ 0 by concavity."""
    d = np.asarray(demand_gpus, dtype=float)
    n_s = d.shape[0]
    prob = np.full(n_s, 1.0 / n_s) if probabilities is None else np.asarray(probabilities)
    lv = np.asarray(levels_gpus, dtype=float)
    out = np.zeros(lv.shape)
    w = slices.weight_h
    for p in range(d.shape[2]):
        for j, level in enumerate(lv[p]):
            lp = np.minimum(slices.demand_gpus[:, :, p], level) @ w
            true = np.minimum(d[:, :, p], level).sum(axis=1)
            den = float(prob @ true)
            out[p, j] = float(prob @ lp) / den - 1.0 if den > 0 else 0.0
    return out


def append_rows(head: TimeSlices, vp: ValuationPaths) -> TimeSlices:
    """``head`` (the decision horizon, reduced) followed by the coarse rows of ``vp`` after it,
    each row one slice (the tail model defines demand at that resolution, so the LP and the
    referee price the same rows there)."""
    tl = vp.timeline
    tail = np.flatnonzero(tl.period >= 0)
    if len(tail) == 0:
        return head
    periods = tl.period[tail]
    uniq = np.unique(periods)
    first = {int(k): int(tail[periods == k][0]) for k in uniq}
    p_start = np.array([tl.start_h[first[int(k)]] for k in uniq], dtype=np.int64)
    p_end = np.array([tl.end_h[first[int(k)]] for k in uniq], dtype=np.int64)
    offset = head.n_periods
    remap = {int(k): offset + i for i, k in enumerate(uniq)}
    return TimeSlices(
        start=head.start,
        n_hours=int(tl.valuation_hours),
        method=head.method,
        period_start_h=np.concatenate([head.period_start_h, p_start]),
        period_end_h=np.concatenate([head.period_end_h, p_end]),
        slice_period=np.concatenate(
            [head.slice_period, np.array([remap[int(k)] for k in periods], dtype=np.int64)]
        ),
        weight_h=np.concatenate([head.weight_h, tl.weight_h[tail]]),
        demand_gpus=np.concatenate([head.demand_gpus, vp.demand_gpus[:, tail, :]], axis=1),
    )
