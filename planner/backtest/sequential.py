r"""Sequential backtest: decisions every ``K`` days over the whole trace, inventory carried from one
decision to the next, commitments expiring at the end of their (mapped) term.

Decision hours ``o_j = o_0 + j·K·24`` (``o_0`` = ``first_origin_h``, default 14 days) while inside the
trace. Terms are mapped onto the trace by ``term_scale`` (default 1 year → 28 days, 3 years → 84
days, :mod:`planner.backtest.term_lp`), prices per GPU-hour unchanged, so a commitment bought at
``o_j`` bills ``τ`` hours and then expires; overlap, expiries and term risk show.

Strategies, each with its own inventory:

``replay-L``   at each decision, Cost Explorer's recommendation over the last ``L`` days given the
               coverage already held (:func:`planner.backtest.replay.replay_recommendation` with
               ``held``): the one commitment type and level that save most on top of it;
``planner``    forecast ``T`` hours (``T`` = the longest mapped term) from the history before
               ``o_j``; per pool the sizing rule with the best cost record so far
               (:mod:`planner.backtest.sizing`); the LP (:func:`solve_term_lp`) buys at ``o_j``
               given the inventory held, on weekly duration curves (6 blocks) of the chosen demand,
               with the policy's minimum utilisation on calibrated scenarios;
``planner-<rule>``  (optional) the same with one rule fixed, to show what the choice is worth;
``hindsight``  one LP over the whole evaluated span, hourly, on the actual usage, with a purchase
               date at every decision hour (LP relaxation, no risk bounds): the lower bound.

Every strategy's commitments are billed once by the evaluator over ``[o_0, n)`` (each commitment
for its active hours inside the trace; the tail of a term beyond the trace is neither billed nor
credited, for every strategy and the hindsight alike). ``regret = C / C* − 1`` over the whole span;
per decision period the hourly bill is split to show when a strategy lost.

The rule record: at every decision, for each pool and rule, the LP with that pool on that rule is
solved given the planner's inventory. At each later decision, the purchases of the last
``record_last`` origins are billed (with what was held then) on everything that has happened
since their origin, so a commitment that proves too big keeps counting against its rule for as
long as it runs (term risk), not only in the first ``K`` days.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.forecast import forecast
from forecasting.pools import PooledUsage
from planner.backtest.replay import replay_recommendation
from planner.backtest.sizing import SIZING_RULES, RuleRecord, combine, rule_demand
from planner.backtest.strategies import history_before, usage_matrix
from planner.backtest.term_lp import (
    DEFAULT_TERM_SCALE,
    cost_table,
    duration_slices,
    hourly_slices,
    solve_term_lp,
    term_hours,
    to_commitments,
)
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize.offers import CostTable
from planner.policy import Policy
from pricing_data.errors import PlannerInputError

H_DAY = 24

SEQ_COLUMNS = (
    "strategy",
    "decisions",
    "regret_pct",
    "mean_regret_pct",
    "worst_period_regret_pct",
    "cost_usd",
    "on_demand_equivalent_usd",
    "savings_pct",
    "utilization_pct",
    "coverage_pct",
    "commitments",
)


@dataclass(frozen=True)
class SequentialSettings:
    """How the sequential backtest runs (module docstring)."""

    every_h: int = 7 * H_DAY
    term_scale: dict[int, int] | None = field(default_factory=lambda: dict(DEFAULT_TERM_SCALE))
    first_origin_h: int = 14 * H_DAY
    n_scenarios: int = 30
    seed: int = 0
    lookbacks_days: tuple[int, ...] = (7, 30, 60)
    forecast_models: tuple[str, ...] | None = None
    period_h: int = 7 * H_DAY
    blocks: int = 6
    record_last: int = 8
    fixed_rules: tuple[str, ...] = ()  # also run planner-<rule> with the rule fixed


@dataclass(frozen=True)
class SequentialResult:
    """``summary``: one row per strategy (SEQ_COLUMNS); ``periods``: one row per decision period
    and strategy; ``decisions``: the planner's rule choice at each decision; ``meta``."""

    summary: pd.DataFrame
    periods: pd.DataFrame
    decisions: pd.DataFrame
    meta: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        def rec(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {
                    str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in r.items()
                }
                for r in df.to_dict(orient="records")
            ]

        return {
            "summary": rec(self.summary),
            "periods": rec(self.periods),
            "decisions": rec(self.decisions),
            "meta": self.meta,
        }


@dataclass
class _Book:
    """A strategy's inventory: commitments with their candidate row and units (for the LP)."""

    held: list[tuple[Commitment, int, float]] = field(default_factory=list)

    def commitments(self) -> list[Commitment]:
        return [c for c, _, _ in self.held]

    def active_at(self, ts: pd.Timestamp) -> list[Commitment]:
        return [c for c, _, _ in self.held if c.start <= ts < c.end]

    def lp_held(self, origin: pd.Timestamp) -> list[tuple[int, float, int, int]]:
        out = []
        for c, cand, units in self.held:
            if c.end <= origin or cand < 0:
                continue
            a = int((c.start - origin) / pd.Timedelta(hours=1))
            b = int((c.end - origin) / pd.Timedelta(hours=1))
            out.append((cand, units, a, b))
        return out


def decision_hours(n_hours: int, settings: SequentialSettings) -> list[int]:
    """``o_0, o_0 + K, …`` inside the trace (module docstring)."""
    if settings.every_h < 1:
        raise PlannerInputError(
            "decisions must be at least 1 hour apart", column="--every", fix="use e.g. --every 7d"
        )
    hours = list(range(settings.first_origin_h, n_hours, settings.every_h))
    if not hours:
        raise PlannerInputError(
            "the usage history is too short for a sequential backtest",
            column="usage",
            value=f"{n_hours} hours ({n_hours / H_DAY:.1f} days)",
            fix=f"give more than {settings.first_origin_h / H_DAY:g} days of usage",
        )
    return hours


def _cand_of(table: CostTable, c: Commitment) -> int:
    m = table.candidates.index[table.candidates["offer_id"] == c.offer_id]
    return int(m[0]) if len(m) else -1


def run_sequential(
    pooled: PooledUsage,
    offers: pd.DataFrame,
    policy: Policy,
    settings: SequentialSettings,
    *,
    progress: Callable[[str], None] | None = None,
) -> SequentialResult:
    """Run the sequential backtest of the module docstring."""
    say = progress or (lambda _m: None)
    t_all = time.perf_counter()
    policy = policy.validate()
    pools = pooled.pools
    n = pooled.n_hours
    decisions = decision_hours(n, settings)
    o0 = decisions[0]
    u_all, ts_all = usage_matrix(pooled, 0, n)
    table = cost_table(offers, pools, policy)
    horizon_h = max(
        term_hours(int(m), settings.term_scale) for m in table.candidates["term_months"].unique()
    )
    books: dict[str, _Book] = {f"replay-{d}": _Book() for d in settings.lookbacks_days}
    books["planner"] = _Book()
    for r in settings.fixed_rules:
        books[f"planner-{r}"] = _Book()
    record = RuleRecord()
    pending: list[tuple[int, str, str, list[Commitment], list[Commitment]]] = []
    decision_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    timing = {"forecast_s": 0.0, "lp_s": 0.0, "replay_s": 0.0, "hindsight_s": 0.0}
    for j, o in enumerate(decisions):
        now = pd.Timestamp(ts_all[o])
        say(
            f"decision {j + 1}/{len(decisions)}: {now:%Y-%m-%d %H:%M} ({o / H_DAY:.1f} d of history)"
        )
        u_hist, ts_hist = u_all[:o], ts_all[:o]
        t0 = time.perf_counter()
        for d in settings.lookbacks_days:
            book = books[f"replay-{d}"]
            choice = replay_recommendation(
                u_hist,
                ts_hist,
                pools,
                offers,
                policy,
                start=now,
                lookback_days=d,
                held=book.active_at(now),
            )
            for c in choice.commitments:
                c2 = replace(
                    c,
                    commitment_id=f"replay{d}-{j + 1}",
                    end=c.start
                    + pd.Timedelta(hours=term_hours(c.term_months, settings.term_scale)),
                )
                units = c.hourly_commitment_usd if c.is_savings_plan else c.quantity
                book.held.append((c2, _cand_of(table, c2), units))
        t1 = time.perf_counter()
        timing["replay_s"] += t1 - t0
        fc = forecast(
            history_before(pooled, o),
            horizon_hours=horizon_h,
            n_scenarios=settings.n_scenarios,
            seed=settings.seed,
            models=settings.forecast_models,
        )
        t2 = time.perf_counter()
        timing["forecast_s"] += t2 - t1
        scen = fc.scenarios.demand_gpus
        probs = fc.scenarios.probabilities
        point = fc.point_gpus if fc.point_gpus is not None else fc.scenarios.expected()
        inputs = {
            rule: [
                rule_demand(rule, scen[:, :, p], probs, point[:, p], u_hist[:, p])
                for p in range(len(pools))
            ]
            for rule in SIZING_RULES
        }

        def solve(
            chosen: tuple[str, ...],
            book: _Book,
            j: int = j,
            now: pd.Timestamp = now,
            inputs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = inputs,
        ) -> list[tuple[Commitment, int, float]]:
            demand, pr = combine([inputs[r][p] for p, r in enumerate(chosen)])
            return _decide(
                demand, pr, table, book, now, f"d{j + 1}", settings, policy, horizon_h, notes
            )

        # the record so far: each rule's purchases at the last origins, billed on everything that
        # has happened since (so a long commitment that turned out too big keeps counting)
        recent = sorted({e[0] for e in pending if e[0] < o})[-settings.record_last :]
        for o_r, pool_name, rule, coms_r, held_r in pending:
            if o_r in recent:
                bill = evaluate(
                    [*held_r, *coms_r], u_all[o_r:o], ts_all[o_r:o], pools, offers, policy
                )
                record.add(o_r, pool_name, rule, bill.total_usd)
        # the planner's choice per pool from its record
        chosen = []
        means_all = {}
        for p in pools:
            rule, means = record.choose(p.name, o, settings.record_last)
            chosen.append(rule)
            means_all[p.name] = means
        cache: dict[tuple[str, ...], list[tuple[Commitment, int, float]]] = {}
        planner_book = books["planner"]
        cache[tuple(chosen)] = solve(tuple(chosen), planner_book)
        # every rule for every pool at this origin, billed at the next decisions
        held_now = planner_book.active_at(now)
        for pi, pool in enumerate(pools):
            for rule in SIZING_RULES:
                variant = tuple(rule if q == pi else chosen[q] for q in range(len(pools)))
                if variant not in cache:
                    cache[variant] = solve(variant, planner_book)
                coms = [com for com, _, _ in cache[variant]]
                pending.append((o, pool.name, rule, coms, held_now))
        planner_book.held += cache[tuple(chosen)]
        for r in settings.fixed_rules:
            book = books[f"planner-{r}"]
            book.held += solve(tuple(r for _ in pools), book)
        timing["lp_s"] += time.perf_counter() - t2
        decision_rows.append(
            {
                "decision": j + 1,
                "time": now.isoformat(),
                **{f"rule[{p.name}]": r for p, r in zip(pools, chosen, strict=True)},
                "record": "; ".join(
                    f"{p}: " + ", ".join(f"{r} {v:.2f}%" for r, v in m.items())
                    for p, m in means_all.items()
                    if m
                ),
                "bought": "; ".join(
                    f"{c.offer_id} x {c.hourly_commitment_usd if c.is_savings_plan else c.quantity:g}"
                    for c, _, _ in cache[tuple(chosen)]
                ),
            }
        )
    # hindsight: one LP over the whole span with every decision date
    t3 = time.perf_counter()
    u_span, ts_span = u_all[o0:], ts_all[o0:]
    hs = solve_term_lp(
        table,
        hourly_slices(u_span),
        decision_hours=[o - o0 for o in decisions],
        term_scale=settings.term_scale,
        spot_cap_share=policy.spot_cap_share,
        horizon_h=n - o0,
    )
    hs_coms = to_commitments(
        table,
        hs.buy,
        [pd.Timestamp(ts_all[o]) for o in decisions],
        settings.term_scale,
        integer=False,
        tag="hindsight",
    )
    books["hindsight"] = _Book(hs_coms)
    timing["hindsight_s"] += time.perf_counter() - t3
    summary, periods = _bill(books, u_span, ts_span, pools, offers, policy, decisions, o0)
    if abs(
        hs.objective_usd
        - float(summary.loc[summary["strategy"] == "hindsight", "cost_usd"].iloc[0])
    ) > 1e-3 * max(hs.objective_usd, 1.0):
        notes.append(
            f"hindsight LP objective {hs.objective_usd:,.2f} USD differs from the evaluator's bill "
            "of its commitments; the bill is used"
        )
    meta = {
        "source": pooled.meta.get("source"),
        "pools": [p.name for p in pools],
        "decisions": len(decisions),
        "every_hours": settings.every_h,
        "first_decision": pd.Timestamp(ts_all[o0]).isoformat(),
        "term_scale_hours": {str(k): v for k, v in (settings.term_scale or {}).items()},
        "planner_horizon_hours": horizon_h,
        "scenarios": settings.n_scenarios,
        "seed": settings.seed,
        "policy": policy.to_dict(),
        "catalog_versions": sorted(
            {str(v) for v in offers.get("catalog_version", pd.Series(dtype=str)).dropna()}
        ),
        "notes": notes,
        "seconds": {k: round(v, 2) for k, v in timing.items()}
        | {"total": round(time.perf_counter() - t_all, 2)},
    }
    return SequentialResult(summary, periods, pd.DataFrame(decision_rows), meta)


def _decide(
    demand: np.ndarray,
    probabilities: np.ndarray,
    table: CostTable,
    book: _Book,
    now: pd.Timestamp,
    tag: str,
    settings: SequentialSettings,
    policy: Policy,
    horizon_h: int,
    notes: list[str],
) -> list[tuple[Commitment, int, float]]:
    """The LP's purchases at ``now`` for ``demand`` (S, H, P) given ``book``'s inventory; the
    policy's minimum utilisation applies to scenario inputs (dropped, with a note, when the held
    inventory alone makes it infeasible)."""
    slices = duration_slices(demand, probabilities, settings.period_h, settings.blocks)
    bound = policy.min_utilization if demand.shape[0] > 1 else None
    held = book.lp_held(now)

    def lp(bound_: float | None) -> dict[tuple[int, int], float]:
        return solve_term_lp(
            table,
            slices,
            decision_hours=[0],
            term_scale=settings.term_scale,
            held=held,
            spot_cap_share=policy.spot_cap_share,
            min_utilization=bound_,
            min_utilization_tail=policy.min_utilization_tail,
            horizon_h=horizon_h,
        ).buy

    try:
        buy = lp(bound)
    except PlannerInputError:
        notes.append(f"{tag}: minimum utilisation infeasible with the inventory held; dropped")
        buy = lp(None)
    return to_commitments(table, buy, [now], settings.term_scale, integer=policy.integer, tag=tag)


def _bill(
    books: dict[str, _Book],
    u: np.ndarray,
    ts: pd.DatetimeIndex,
    pools: tuple,  # type: ignore[type-arg]
    offers: pd.DataFrame,
    policy: Policy,
    decisions: list[int],
    o0: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    evs = {
        name: evaluate(b.commitments(), u, ts, pools, offers, policy) for name, b in books.items()
    }
    c_star = evs["hindsight"].total_usd
    bounds = [o - o0 for o in decisions] + [u.shape[0]]
    period_rows = []
    per_hs = [
        float(evs["hindsight"].hourly_cost_usd[a:b].sum()) for a, b in itertools.pairwise(bounds)
    ]
    rows = []
    order = [k for k in books if k != "hindsight"] + ["hindsight"]
    for name in order:
        ev = evs[name]
        per = []
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            cost = float(ev.hourly_cost_usd[a:b].sum())
            r = 100.0 * (cost / per_hs[i] - 1.0) if per_hs[i] > 0 else 0.0
            per.append(r)
            period_rows.append(
                {
                    "period": i + 1,
                    "start": pd.Timestamp(ts[a]).isoformat(),
                    "strategy": name,
                    "cost_usd": cost,
                    "regret_pct": r,
                }
            )
        spend = float(sum(ev.commitment_spend_usd.values()))
        reg = 100.0 * (ev.total_usd / c_star - 1.0) if c_star > 0 else 0.0
        rows.append(
            {
                "strategy": name,
                "decisions": len(decisions),
                "regret_pct": reg,
                "mean_regret_pct": reg,
                "worst_period_regret_pct": max(per),
                "cost_usd": ev.total_usd,
                "on_demand_equivalent_usd": ev.on_demand_equivalent_usd,
                "savings_pct": 100.0 * (1 - ev.total_usd / ev.on_demand_equivalent_usd)
                if ev.on_demand_equivalent_usd > 0
                else 0.0,
                "utilization_pct": 100.0 * ev.utilization if spend > 0 else math.nan,
                "coverage_pct": 100.0 * ev.coverage,
                "commitments": len(books[name].held),
            }
        )
    return pd.DataFrame(rows, columns=list(SEQ_COLUMNS)), pd.DataFrame(period_rows)
