r"""Whole-term valuation: the timeline every commitment is valued on, the demand tail beyond the
forecast, and the cost of money. Shared by the LP (:mod:`planner.optimize`) and the referee
(:mod:`planner.evaluate`), so both price the same rows.

Decision horizon vs valuation horizon
    The *decision horizon* ``[0, H)`` is what the user plans: purchases may start at its purchase
    dates (now, then every ``ladder_every_months``). The *valuation horizon* ``[0, V)`` runs to the
    end of the longest term that can be bought at the last purchase date (``V = last purchase date
    + max(terms_months)``), so every purchase is charged and credited for its whole term:
    upfront plus recurring over all of its months.

Rows
    The timeline is a list of rows ``r``: ``[start_r, end_r)`` with weight ``w_r`` hours of that
    span (``w_r = end_r - start_r`` for an hourly row; for a tail block, its share of the period).
    Rows ``0 .. H-1`` are the forecast's hours. After ``H`` the timeline is coarse: periods of
    ``tail_step_months`` calendar months (cut also at every date where a commitment that can be
    bought, or is held, starts or ends), each reduced to ``blocks`` rows by a duration curve.
    A commitment active on part of a coarse row counts for that share of the row
    (:meth:`Timeline.active_share`).

Tail model (demand after the scenarios end)
    Where the scenarios hold hours beyond ``H`` (a scenarios file longer than the decision
    horizon) the coarse rows are the duration curve of those hours. Beyond the scenarios' last hour
    each scenario s and pool p continues from where it ends: level ``L_{s,p}`` (mean GPUs of the
    last 168 hours, a whole week) and shape ``q_{s,b,p}`` (the last month's duration curve in
    ``blocks`` equal blocks, divided by that month's mean). Month m ≥ 1 after the last hour has
    level ``L · F_{s,p,m}`` with

        log F_{s,p,m} = Σ_{i=1..m} ( g_{s,p} φ^i + σ_p ε_{s,p,i} − σ_p² / 2 ),  ε ~ N(0, 1),

    ``g`` the scenario's log change between its last two months (clipped to [−0.5, +0.1] a month:
    a decline carries on further than a rise) damped
    by φ = 0.7 per month (a trend fades, it does not run away), and σ_p the monthly volatility
    implied by the forecast's spread at its end (coefficient of variation of L over scenarios ÷
    √(forecast months)), at least ``tail_min_volatility_pct``/100 and at most 0.3. Uncertainty
    widens as √m, paths decline as well as grow (the median drifts down by σ²/2 per month, the mean
    is flat apart from the damped trend), and a period's level is the mean of F over its months.
    Random draws are seeded from the scenarios' seed: the tail is deterministic.

Spot price
    The catalogs hold one snapshot average spot price; scenario s pays it times
    ``m_s = exp(σ z_s − σ²/2)`` (mean 1, σ = ``spot_price_spread_pct``/100, seeded), the same
    factor in the LP and the referee.

Cost of money
    Cash of month m (0 = the month that starts at the plan's start) is discounted by
    ``δ_m = (1 + r)^(−m/12)`` with r = ``discount_rate_pct``/100 a year. Upfront payments fall at
    the start of their purchase month, recurring fees and usage in the month they accrue. A row's
    discount is the hour-weighted mean of δ over the months its span covers. r = 0 gives the
    undiscounted figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from planner.inventory import Commitment
from planner.policy import Policy
from pricing_data.schema import HOURS_PER_MONTH

TREND_DAMPING = 0.7
TREND_CLIP = 0.10  # most log growth per month carried into the tail
DECLINE_CLIP = 0.50  # most log decline per month carried into the tail
LEVEL_HOURS = 168  # the level the tail starts from: the mean of the last week
MAX_VOLATILITY = 0.30


def hours_between(start: pd.Timestamp, ts: pd.Timestamp) -> int:
    """Whole hours from ``start`` to ``ts`` (rounded down)."""
    return int((pd.Timestamp(ts) - pd.Timestamp(start)) // pd.Timedelta(hours=1))


def month_starts_h(start: pd.Timestamp, n_hours: int) -> np.ndarray:
    """Hour offsets of calendar-month boundaries from ``start``: 0, then each month, to ≥ n_hours
    (read-only: the same few (start, length) pairs are asked for thousands of times in a run, by
    every candidate's discounting and every timeline, and the calendar walk is memoised)."""
    return _month_starts_h(pd.Timestamp(start), int(n_hours))


@lru_cache(maxsize=512)
def _month_starts_h(start: pd.Timestamp, n_hours: int) -> np.ndarray:
    out = [0]
    k = 1
    while out[-1] < n_hours:
        out.append(hours_between(start, start + pd.DateOffset(months=k)))
        k += 1
    bounds = np.array(out, dtype=np.int64)
    bounds.setflags(write=False)
    return bounds


def discount_by_month(n_months: int, discount_rate_pct: float) -> np.ndarray:
    """δ_m = (1 + r)^(−m/12) for m = 0 .. n_months − 1 (module docstring)."""
    r = discount_rate_pct / 100.0
    return (1.0 + r) ** (-np.arange(n_months, dtype=float) / 12.0)


@dataclass(frozen=True)
class Timeline:
    """Rows ``[start_h, end_h)`` (hours from ``start``) with ``weight_h``; ``n_hourly`` leading rows
    are single hours; ``month_h`` (n_rows, n_months) spreads each row's weight over calendar months
    (rows sum to ``weight_h``)."""

    start: pd.Timestamp
    decision_hours: int
    valuation_hours: int
    n_hourly: int
    start_h: np.ndarray
    end_h: np.ndarray
    weight_h: np.ndarray
    period: np.ndarray  # coarse rows: index of their period; hourly rows: -1
    month_h: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.weight_h.shape[0])

    @property
    def n_months(self) -> int:
        return int(self.month_h.shape[1])

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """Each row's start."""
        return pd.DatetimeIndex(self.start + pd.to_timedelta(self.start_h, unit="h"))

    def month_dates(self) -> list[pd.Timestamp]:
        return [self.start + pd.DateOffset(months=m) for m in range(self.n_months)]

    def active_share(self, a: pd.Timestamp, b: pd.Timestamp) -> np.ndarray:
        """Share of each row's span inside ``[a, b)`` (0/1 for hourly rows)."""
        ha, hb = hours_between(self.start, a), hours_between(self.start, b)
        lo = np.maximum(self.start_h, ha)
        hi = np.minimum(self.end_h, hb)
        span = np.maximum(self.end_h - self.start_h, 1)
        return np.asarray(np.clip(hi - lo, 0, None) / span, dtype=float)

    @cached_property
    def _month_bounds(self) -> np.ndarray:
        """Calendar-month boundaries (hour offsets) over the timeline's months, computed once."""
        return month_starts_h(self.start, max(int(self.end_h.max(initial=0)), 1))

    def month_of_h(self, h: int) -> int:
        """The calendar month (0-based) that hour offset ``h`` falls in."""
        bounds = self._month_bounds
        if h >= int(bounds[-1]):  # past the timeline's months: extend
            bounds = month_starts_h(self.start, max(h + 1, 1))
        return int(np.searchsorted(bounds, h, side="right") - 1)

    @cached_property
    def _month_entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The non-zero entries of ``month_h`` (rows, months, hours): one per hourly row."""
        rows, months = np.nonzero(self.month_h)
        return rows, months, self.month_h[rows, months]

    def by_month(self, x: np.ndarray) -> np.ndarray:
        """``x @ month_h`` for a per-row rate ``x`` (n_rows,): Σ_r x_r · month_h[r, m] per month,
        summed over ``month_h``'s non-zero entries only (a row touches one month or a few). The
        evaluator books cash by month this way for every commitment, pool and scenario; the dense
        product (n_rows × n_months, mostly zeros) was most of its time."""
        rows, months, hours = self._month_entries
        out: np.ndarray = np.bincount(
            months, weights=np.asarray(x, dtype=float)[rows] * hours, minlength=self.n_months
        )
        return out

    def row_discount(self, discount_rate_pct: float) -> np.ndarray:
        """Hour-weighted mean δ over each row's months (module docstring)."""
        delta = discount_by_month(self.n_months, discount_rate_pct)
        w = np.maximum(self.weight_h, 1e-12)
        return np.asarray((self.month_h @ delta) / w, dtype=float)


def hourly_timeline(timestamps: pd.DatetimeIndex) -> Timeline:
    """A timeline of single hours at ``timestamps`` (the evaluator's classic input)."""
    ts = pd.DatetimeIndex(timestamps)
    if len(ts) == 0:
        start = pd.Timestamp("2000-01-01", tz="UTC")
        h = np.zeros(0, dtype=np.int64)
    else:
        start = pd.Timestamp(ts[0])
        h = np.asarray((ts - start) // pd.Timedelta(hours=1), dtype=np.int64)
    end = h + 1
    n = int(end.max()) if len(end) else 0
    weight = np.ones(len(h))
    return Timeline(
        start=start,
        decision_hours=n,
        valuation_hours=n,
        n_hourly=len(h),
        start_h=h,
        end_h=end,
        weight_h=weight,
        period=np.full(len(h), -1, dtype=np.int64),
        month_h=_month_matrix(start, h, end, weight, max(n, 1)),
    )


@dataclass(frozen=True)
class ValuationPaths:
    """Demand on a :class:`Timeline`: ``demand_gpus`` (n_scenarios, n_rows, n_pools)."""

    timeline: Timeline
    demand_gpus: np.ndarray
    tail_volatility: np.ndarray  # σ_p per pool (monthly), for the record
    note: str
    spot_price_factor: np.ndarray  # (S,) spot price multiplier of each scenario (mean 1)


def valuation_hours(
    start: pd.Timestamp, decision_hours: int, purchase_months: Iterable[int], terms: Iterable[int]
) -> int:
    """V: the end of the longest term bought at the last purchase date (at least H)."""
    last = max(list(purchase_months) or [0])
    longest = max(list(terms) or [0])
    v = hours_between(start, pd.Timestamp(start) + pd.DateOffset(months=last + longest))
    return max(v, decision_hours)


def _coarse_bounds(
    start: pd.Timestamp, a: int, b: int, step_months: int, extra_h: Iterable[int]
) -> np.ndarray:
    cuts = {a, b}
    k = 0
    while True:
        h = hours_between(start, pd.Timestamp(start) + pd.DateOffset(months=k))
        if h >= b:
            break
        if h > a:
            cuts.add(h)
        k += step_months
    cuts.update(int(h) for h in extra_h if a < int(h) < b)
    return np.array(sorted(cuts), dtype=np.int64)


def _month_matrix(
    start: pd.Timestamp, start_h: np.ndarray, end_h: np.ndarray, weight_h: np.ndarray, n_hours: int
) -> np.ndarray:
    bounds = month_starts_h(start, n_hours)
    n_m = len(bounds) - 1
    out = np.zeros((len(start_h), n_m))
    span = np.maximum(end_h - start_h, 1).astype(float)
    for m in range(n_m):
        lo = np.maximum(start_h, bounds[m])
        hi = np.minimum(end_h, bounds[m + 1])
        out[:, m] = np.clip(hi - lo, 0, None) / span * weight_h
    return out


def _blocks(seg: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pool duration curve of ``seg`` (S, n, P) in ``blocks`` blocks: (sizes, means (S,B,P))."""
    n = seg.shape[1]
    nb = max(1, min(blocks, n))
    srt = -np.sort(-seg, axis=1, kind="stable")
    sizes = np.array([len(x) for x in np.array_split(np.arange(n), nb)])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sums = np.add.reduceat(srt, starts, axis=1)
    return sizes, sums / sizes[None, :, None]


def tail_factors(
    demand_gpus: np.ndarray,
    n_months: int,
    *,
    seed: int | None,
    min_volatility_pct: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(L (S,P), shape q (S,B=per-hour rows of last month), F (S, n_months+1, P) with F[:,0]=1, σ (P,))
    of the tail model (module docstring)."""
    d = np.asarray(demand_gpus, dtype=float)
    n_s, n_h, n_p = d.shape
    m_h = int(min(n_h, HOURS_PER_MONTH))
    last = d[:, n_h - m_h :, :]
    month_level = last.mean(axis=1)
    level = d[:, n_h - min(n_h, LEVEL_HOURS) :, :].mean(axis=1)
    prev = d[:, max(0, n_h - 2 * m_h) : n_h - m_h, :]
    if prev.shape[1] > 0:
        prev_level = prev.mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log((month_level + 1e-9) / (prev_level + 1e-9))
        g = np.clip(np.nan_to_num(g), -DECLINE_CLIP, TREND_CLIP)
    else:
        g = np.zeros((n_s, n_p))
    months_fc = max(n_h / HOURS_PER_MONTH, 1.0)
    mean = month_level.mean(axis=0)
    sd = month_level.std(axis=0)
    cv = np.divide(sd, mean, out=np.zeros_like(sd), where=mean > 1e-9)
    sigma = np.clip(cv / np.sqrt(months_fc), min_volatility_pct / 100.0, MAX_VOLATILITY)
    sigma = np.maximum(sigma, min_volatility_pct / 100.0)
    rng = np.random.default_rng([0 if seed is None else int(seed), 11])  # deterministic
    eps = rng.standard_normal((n_s, n_months, n_p))
    i = np.arange(1, n_months + 1, dtype=float)
    trend = g[:, None, :] * (TREND_DAMPING**i)[None, :, None]
    steps = trend + sigma[None, None, :] * eps - 0.5 * sigma[None, None, :] ** 2
    logf = np.concatenate([np.zeros((n_s, 1, n_p)), np.cumsum(steps, axis=1)], axis=1)
    return level, last, np.exp(logf), sigma


def build_valuation(
    demand_gpus: np.ndarray,
    start: pd.Timestamp,
    decision_hours: int,
    valuation_hours_: int,
    *,
    blocks: int = 4,
    tail_step_months: int = 3,
    cuts_h: Iterable[int] = (),
    seed: int | None = None,
    min_volatility_pct: float = 2.0,
    spot_price_spread_pct: float = 0.0,
) -> ValuationPaths:
    """Hourly rows for the decision horizon, coarse rows to ``valuation_hours_`` (module
    docstring). ``demand_gpus`` (S, n_hours ≥ decision_hours, P) are the scenarios."""
    d = np.asarray(demand_gpus, dtype=float)
    start = pd.Timestamp(start)
    n_h = d.shape[1]
    h_dec = int(min(decision_hours, n_h))
    v = int(max(valuation_hours_, h_dec))
    bounds = _coarse_bounds(start, h_dec, v, tail_step_months, cuts_h)
    rows_s = [np.arange(h_dec, dtype=np.int64)]
    rows_e = [np.arange(1, h_dec + 1, dtype=np.int64)]
    weights = [np.ones(h_dec)]
    periods = [np.full(h_dec, -1, dtype=np.int64)]
    demands = [d[:, :h_dec, :]]
    tail_months = int(np.ceil(max(0, v - n_h) / HOURS_PER_MONTH)) + 1
    level, last, factors, sigma = tail_factors(
        d, tail_months, seed=seed, min_volatility_pct=min_volatility_pct
    )
    _, shape_means = _blocks(last, blocks)
    month_level = last.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(
            month_level[:, None, :] > 1e-12, shape_means / month_level[:, None, :], 1.0
        )
    nb_tail = shape.shape[1]
    for k in range(len(bounds) - 1):
        a, b = int(bounds[k]), int(bounds[k + 1])
        if b <= n_h:  # the scenarios hold these hours: their duration curve
            sizes, means = _blocks(d[:, a:b, :], blocks)
            frac = sizes / sizes.sum()
        else:
            lo, hi = max(a, n_h), b
            m0 = int((lo - n_h) // HOURS_PER_MONTH) + 1
            m1 = int(np.ceil((hi - n_h) / HOURS_PER_MONTH))
            f = factors[:, m0 : max(m1, m0) + 1, :].mean(axis=1)  # (S, P)
            tail_means = level[:, None, :] * f[:, None, :] * shape
            frac = np.full(nb_tail, 1.0 / nb_tail)
            if a < n_h:  # a period that straddles the scenarios' end: known part + tail part
                _, known = _blocks(d[:, a:n_h, :], nb_tail)
                share_known = (n_h - a) / (b - a)
                known = known if known.shape[1] == nb_tail else np.repeat(known, nb_tail, axis=1)
                means = share_known * known[:, :nb_tail, :] + (1 - share_known) * tail_means
            else:
                means = tail_means
        n_b = means.shape[1]
        rows_s.append(np.full(n_b, a, dtype=np.int64))
        rows_e.append(np.full(n_b, b, dtype=np.int64))
        weights.append(frac * (b - a))
        periods.append(np.full(n_b, k, dtype=np.int64))
        demands.append(means)
    start_h = np.concatenate(rows_s)
    end_h = np.concatenate(rows_e)
    weight_h = np.concatenate(weights).astype(float)
    month_h = _month_matrix(start, start_h, end_h, weight_h, v)
    timeline = Timeline(
        start=start,
        decision_hours=h_dec,
        valuation_hours=v,
        n_hourly=h_dec,
        start_h=start_h,
        end_h=end_h,
        weight_h=weight_h,
        period=np.concatenate(periods),
        month_h=month_h,
    )
    extended = v > n_h
    note = (
        f"valuation horizon {v / HOURS_PER_MONTH:.0f} months (decision horizon "
        f"{h_dec / HOURS_PER_MONTH:.0f}); "
        + (
            f"scenarios cover {n_h / HOURS_PER_MONTH:.0f} months, extended by the tail model "
            f"(monthly volatility {', '.join(f'{100 * s:.1f}%' for s in sigma)}; "
            "see planner/valuation.py)"
            if extended
            else "scenarios cover the whole valuation horizon"
        )
    )
    sp = spot_price_spread_pct / 100.0
    z = np.random.default_rng([0 if seed is None else int(seed), 13]).standard_normal(d.shape[0])
    return ValuationPaths(
        timeline=timeline,
        demand_gpus=np.concatenate(demands, axis=1),
        tail_volatility=sigma,
        note=note,
        spot_price_factor=np.exp(sp * z - 0.5 * sp * sp),
    )


def purchase_dates(
    start: pd.Timestamp, decision_hours: int, ladder_every_months: int
) -> list[pd.Timestamp]:
    """Now, then every ``ladder_every_months`` months while inside the decision horizon."""
    dates = [pd.Timestamp(start)]
    if ladder_every_months > 0:
        k = ladder_every_months
        while True:
            d = pd.Timestamp(start) + pd.DateOffset(months=k)
            if hours_between(start, d) >= decision_hours:
                break
            dates.append(d)
            k += ladder_every_months
    return dates


def decision_hours(scenarios_hours: int, start: pd.Timestamp, horizon_months: int) -> int:
    """H: the policy's horizon in hours, capped at the scenarios' length."""
    want = hours_between(start, pd.Timestamp(start) + pd.DateOffset(months=horizon_months))
    return min(want, scenarios_hours)


def buyable_terms(offers: pd.DataFrame, policy: Policy) -> list[int]:
    """Terms (months) of the commitment offers the policy lets the plan buy."""
    m = (
        offers["purchase_model"].isin(policy.purchase_models)
        & offers["provider"].isin(policy.providers)
        & offers["term_months"].isin(policy.terms_months)
        & offers["payment_option"].astype(str).isin(policy.payment_options)
    )
    return sorted({int(t) for t in offers.loc[m, "term_months"]})


def valuation_for(
    demand_gpus: np.ndarray,
    start: pd.Timestamp,
    policy: Policy,
    inventory: Iterable[Commitment] = (),
    *,
    seed: int | None = None,
    offers: pd.DataFrame | None = None,
    extra_terms_months: Iterable[int] = (),
) -> ValuationPaths:
    """The valuation paths the LP and the referee share for a run (module docstring): decision
    horizon from the policy, valuation horizon to the end of the longest allowed term bought at
    the last purchase date, coarse rows cut at every purchase date ± term and inventory date.
    ``extra_terms_months``: terms of other commitments to value from the start (e.g. Cost
    Explorer's recommendation), so the horizon covers them too."""
    start = pd.Timestamp(start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    h_dec = decision_hours(int(np.asarray(demand_gpus).shape[1]), start, policy.horizon_months)
    dates = purchase_dates(start, h_dec, policy.ladder_every_months)
    months = [round((d - start) / pd.Timedelta(days=30.4375)) for d in dates]
    terms = list(policy.terms_months) if offers is None else buyable_terms(offers, policy)
    terms = sorted({*terms, *(int(t) for t in extra_terms_months)})
    v = valuation_hours(start, h_dec, months, terms) if policy.valuation == "whole_term" else h_dec
    cuts = {hours_between(start, d) for d in dates}
    for d in dates:
        for term in terms:
            cuts.add(hours_between(start, d + pd.DateOffset(months=int(term))))
    for c in inventory:
        cuts.add(hours_between(start, c.start))
        cuts.add(hours_between(start, c.end))
    return build_valuation(
        demand_gpus,
        start,
        h_dec,
        v,
        blocks=policy.tail_blocks,
        tail_step_months=policy.tail_step_months,
        cuts_h=cuts,
        seed=seed,
        min_volatility_pct=policy.tail_min_volatility_pct,
        spot_price_spread_pct=policy.spot_price_spread_pct,
    )


def span_discount(
    start: pd.Timestamp, a_h: np.ndarray, b_h: np.ndarray, discount_rate_pct: float
) -> np.ndarray:
    """Mean δ over the hours of each span ``[a_h, b_h)`` (hour-weighted over its months)."""
    a = np.asarray(a_h, dtype=np.int64)
    b = np.asarray(b_h, dtype=np.int64)
    if len(a) == 0:
        return np.zeros(0)
    span = np.maximum(b - a, 1).astype(float)
    mm = _month_matrix(start, a, b, span, int(b.max()))
    delta = discount_by_month(mm.shape[1], discount_rate_pct)
    return np.asarray((mm @ delta) / span, dtype=float)
