"""Running a backtest: every strategy on every rolling-origin window, evaluated by the referee.

At each origin ``o`` (:mod:`planner.backtest.windows`) and for its window ``[o, o + W)``:

1. the replay variants look back over hours before ``o`` (:mod:`planner.backtest.replay`);
2. the planner forecasts ``W`` hours from the history before ``o`` with ``n_scenarios`` paths and
   optimises with the policy (the planning horizon is the window, so "now" purchases are judged on
   the same hours they are evaluated on; the policy's time reduction, e.g. a duration curve, is kept);
3. the hindsight LP is solved on the window's actual usage;
4. each strategy's commitments are billed by :func:`planner.evaluate.evaluate` on the window's
   actual usage (gap hours filled as :func:`forecasting.make_pools` fills them), and regret is taken
   against the hindsight bill (:mod:`planner.backtest.metrics`).

The catalog is cut to the pools' GPU types and, on AWS, to the pools' regions first (it only speeds
up the lookups; the same offers serve every strategy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting.forecast import Forecast, forecast
from forecasting.growth import Growth
from forecasting.pools import PooledUsage
from planner.backtest.hindsight import hindsight_optimum
from planner.backtest.metrics import regret, summarise, window_figures
from planner.backtest.replay import replay_recommendation
from planner.backtest.sizing import (
    SIZING_ORIGINS,
    SIZING_RULES,
    choose_rules_from_history,
    firm_purchases,
)
from planner.backtest.strategies import (
    backtest_policy,
    history_before,
    on_demand_policy,
    oracle_purchases,
    usage_matrix,
)
from planner.backtest.windows import H_DAY, Window, rolling_origins
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize.offers import relevant_offers
from planner.policy import Policy

DEFAULT_LOOKBACKS_DAYS = (7, 30, 60)
#: forecasts and sizing-rule scores by origin hour, shared by a backtest's windows
_Caches = tuple[dict[int, Forecast], dict[int, dict[str, dict[str, float]]]]
# relative: the LP's and the evaluator's bills of the same commitments, and hindsight and any strategy,
# may differ by this much (LP feasibility tolerances on six-figure bills)
REGRET_TOLERANCE = 1e-4


@dataclass(frozen=True)
class BacktestSettings:
    """How the backtest runs. ``min_history_h`` defaults to the shortest lookback (7 days).
    ``hindsight`` is always run (regret needs it)."""

    window_h: int = 14 * H_DAY
    n_origins: int = 4
    n_scenarios: int = 30
    seed: int = 0
    lookbacks_days: tuple[int, ...] = DEFAULT_LOOKBACKS_DAYS
    min_history_h: int | None = None
    forecast_models: tuple[str, ...] | None = None  # the forecaster's candidates (None: default)
    oracle: bool = False  # also run "planner-oracle" (diagnostic; see strategies.oracle_purchases)
    skip: tuple[str, ...] = ()  # strategies left out (e.g. "planner" for a quick replay study)
    #: past windows on which the planner scores its sizing rules per pool (0: always lp-calibrated)
    sizing_origins: int = SIZING_ORIGINS
    rule_strategies: bool = False  # also run "rule:<rule>" (every pool on one sizing rule)

    def min_history(self) -> int:
        if self.min_history_h is not None:
            return self.min_history_h
        return min(self.lookbacks_days, default=7) * H_DAY


@dataclass(frozen=True)
class BacktestResult:
    """``windows``: one row per window × strategy (metrics.WINDOW_COLUMNS); ``summary``: one row
    per strategy (metrics.SUMMARY_COLUMNS); ``meta``: parameters, catalog versions, notes."""

    windows: pd.DataFrame
    summary: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict(orient="records"):
                out.append({str(k): _plain(v) for k, v in rec.items()})
            return out

        return {
            "summary": records(self.summary),
            "windows": records(self.windows),
            "meta": self.meta,
        }


def _plain(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if not np.isfinite(f) else f
    if hasattr(v, "item"):
        return v.item()
    return v


def strategy_names(
    pooled: PooledUsage, policy: Policy, lookbacks: Sequence[int], *, oracle: bool = False
) -> list[str]:
    names = ["on-demand"]
    if policy.spot_cap_share > 0 and any(p.interruptible for p in pooled.pools):
        names.append("on-demand+spot")
    names += [f"replay-{d}" for d in lookbacks]
    names += ["planner", *(["planner-oracle"] if oracle else []), "hindsight"]
    return names


def rule_strategy_names() -> list[str]:
    return [f"rule:{r}" for r in SIZING_RULES]


def run_backtest(
    pooled: PooledUsage,
    offers: pd.DataFrame,
    policy: Policy,
    settings: BacktestSettings,
    *,
    growth: Growth | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Backtest every strategy on the rolling-origin windows of ``pooled`` (module docstring)."""
    say = progress or (lambda _m: None)
    policy = policy.validate()
    t_all = time.perf_counter()
    offers = relevant_offers(offers, pooled.pools)
    windows = rolling_origins(
        pooled.index,
        window_h=settings.window_h,
        n_origins=settings.n_origins,
        min_history_h=settings.min_history(),
    )
    names = [
        n
        for n in strategy_names(pooled, policy, settings.lookbacks_days, oracle=settings.oracle)
        if n not in settings.skip or n == "hindsight"
    ]
    if settings.rule_strategies:
        names[names.index("hindsight") : names.index("hindsight")] = rule_strategy_names()
    caches: _Caches = ({}, {})
    pools = pooled.pools
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    timing = {"replay_s": 0.0, "planner_s": 0.0, "hindsight_s": 0.0, "evaluate_s": 0.0}
    for w in windows:
        say(
            f"window {w.index + 1}/{len(windows)}: {w.start:%Y-%m-%d %H:%M} + "
            f"{w.hours / H_DAY:g} d ({w.origin_h / H_DAY:.1f} d of history)"
        )
        rows += _one_window(
            pooled, offers, policy, settings, w, names, growth, timing, notes, caches
        )
    frame = pd.DataFrame(rows)
    summary = summarise(frame, names)
    versions: list[str] = []
    if "catalog_version" in offers.columns:
        versions = sorted({str(v) for v in offers["catalog_version"].dropna().unique()})
    meta = {
        "source": pooled.meta.get("source"),
        "pools": [p.name for p in pools],
        "history_start": pd.Timestamp(pooled.index[0]).isoformat(),
        "history_end": pd.Timestamp(pooled.index[-1]).isoformat(),
        "window_hours": settings.window_h,
        "origins_asked": settings.n_origins,
        "windows": len(windows),
        "min_history_hours": settings.min_history(),
        "scenarios": settings.n_scenarios,
        "seed": settings.seed,
        "lookbacks_days": list(settings.lookbacks_days),
        "planner_horizon": "the window",
        "policy": policy.to_dict(),
        "catalog_versions": versions,
        "notes": notes,
        "seconds": {k: round(v, 2) for k, v in timing.items()}
        | {"total": round(time.perf_counter() - t_all, 2)},
    }
    return BacktestResult(windows=frame, summary=summary, meta=meta)


def _one_window(
    pooled: PooledUsage,
    offers: pd.DataFrame,
    policy: Policy,
    settings: BacktestSettings,
    w: Window,
    names: list[str],
    growth: Growth | None,
    timing: dict[str, float],
    notes: list[str],
    caches: _Caches,
) -> list[dict[str, Any]]:
    pools = pooled.pools
    u_hist, ts_hist = usage_matrix(pooled, 0, w.origin_h)
    u_win, ts_win = usage_matrix(pooled, w.origin_h, w.end_h)
    start = pd.Timestamp(ts_win[0])
    bought: dict[str, tuple[tuple[Commitment, ...], str]] = {
        "on-demand": ((), ""),
        "on-demand+spot": ((), ""),
    }
    t0 = time.perf_counter()
    for days in settings.lookbacks_days:
        if f"replay-{days}" not in names:
            continue
        choice = replay_recommendation(
            u_hist, ts_hist, pools, offers, policy, start=start, lookback_days=days
        )
        bought[f"replay-{days}"] = (choice.commitments, choice.note)
        if choice.lookback_days_used + 1e-9 < days:
            notes.append(
                f"window {w.index + 1}: replay-{days} used the {choice.lookback_days_used:.1f} "
                "days of history available"
            )
    t1 = time.perf_counter()
    if "planner" in names:
        fc_cache, cost_cache = caches
        hist = history_before(pooled, w.origin_h)
        rule_choice = choose_rules_from_history(
            hist,
            offers,
            [],
            backtest_policy(policy),
            window_h=w.hours,
            n_origins=settings.sizing_origins,
            n_scenarios=settings.n_scenarios,
            seed=settings.seed,
            growth=growth,
            models=settings.forecast_models,
            min_history_h=settings.min_history(),
            forecast_cache=fc_cache,
            cost_cache=cost_cache,
        )
        if w.origin_h not in fc_cache:
            fc_cache[w.origin_h] = forecast(
                hist,
                horizon_hours=w.hours,
                n_scenarios=settings.n_scenarios,
                seed=settings.seed,
                growth=growth,
                models=settings.forecast_models,
            )
        fc = fc_cache[w.origin_h]
        rules = tuple(rule_choice.rules[p.name] for p in pools)
        coms, note = firm_purchases(rules, fc, u_hist, offers, [], backtest_policy(policy))
        scen_means = fc.scenarios.demand_gpus.sum(axis=2).mean(axis=1)
        actual = float(u_win.sum(axis=1).mean())
        lo, hi = np.quantile(scen_means, [0.1, 0.9])
        forecast_note = {
            "forecast_bias_pct": 100.0 * (float(scen_means.mean()) / actual - 1.0)
            if actual > 0
            else math.nan,
            "actual_in_p10_p90": bool(lo <= actual <= hi),
        }
        record = "; ".join(
            f"{p}: " + ", ".join(f"{r} {v:.2f}%" for r, v in m.items())
            for p, m in rule_choice.rms_regret_pct.items()
            if m
        )
        bought["planner"] = (
            tuple(coms),
            f"{note}; rules {', '.join(rules)}" + (f" (record: {record})" if record else ""),
        )
        for name in names:
            if name.startswith("rule:"):
                r = name.removeprefix("rule:")
                rc, rn = firm_purchases(
                    tuple(r for _ in pools), fc, u_hist, offers, [], backtest_policy(policy)
                )
                bought[name] = (tuple(rc), rn)
    if "planner-oracle" in names:
        oracle = oracle_purchases(u_win, start, pools, offers, policy)
        bought["planner-oracle"] = (oracle.commitments, oracle.note)
    t2 = time.perf_counter()
    hs = hindsight_optimum(u_win, start, pools, offers, policy)
    t3 = time.perf_counter()
    timing["replay_s"] += t1 - t0
    timing["planner_s"] += t2 - t1
    timing["hindsight_s"] += t3 - t2
    bought["hindsight"] = (hs.commitments, f"LP objective {hs.lp_objective_usd:,.2f} USD")
    if "planner" not in names:
        forecast_note = {}
    figures: dict[str, dict[str, float]] = {}
    for name in names:
        commitments, _ = bought[name]
        pol = on_demand_policy(policy) if name == "on-demand" else policy
        ev = evaluate(list(commitments), u_win, ts_win, pools, offers, pol)
        figures[name] = window_figures(ev)
    timing["evaluate_s"] += time.perf_counter() - t3
    c_star = figures["hindsight"]["cost_usd"]
    if abs(hs.lp_objective_usd - c_star) > REGRET_TOLERANCE * max(c_star, 1.0):
        notes.append(
            f"window {w.index + 1}: hindsight LP objective {hs.lp_objective_usd:,.2f} USD differs "
            f"from the evaluator's bill of its commitments {c_star:,.2f} USD; the bill is used"
        )
    rows = []
    for name in names:
        f = figures[name]
        rows.append(
            {
                "window": w.index + 1,
                "window_start": start.isoformat(),
                "window_days": w.hours / H_DAY,
                "history_days": w.origin_h / H_DAY,
                "strategy": name,
                **f,
                "regret_pct": 100.0 * regret(f["cost_usd"], c_star),
                "forecast_bias_pct": forecast_note.get("forecast_bias_pct", math.nan)
                if name == "planner"
                else math.nan,
                "actual_in_p10_p90": forecast_note.get("actual_in_p10_p90")
                if name == "planner"
                else None,
                "note": bought[name][1],
            }
        )
    return rows
