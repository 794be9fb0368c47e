r"""Sizing rules, chosen per pool by their own rolling-origin cost record.

As the forecaster picks a model per pool by rolling-origin error, the planner picks, per pool, the
demand input from which the LP sizes commitments, by rolling-origin cost billed by the evaluator:

``lp-calibrated``  the forecast's decision scenarios (out-of-sample error scenarios,
                   :mod:`forecasting.error_scenarios`), with the policy's risk bounds;
``lp-point``       the point forecast as one certain scenario (no risk bound: nothing to bound);
``trailing-L``     the last ``L`` ∈ {7, 30, 60} days of usage repeated over the horizon, as one
                   certain scenario: Cost Explorer's assumption, sized jointly by the LP.

**Record.** At each past origin ``o`` (where the window ``[o, o + W)`` has ended), for each pool
``j`` and rule ``R``: the LP is solved with pool ``j`` on rule ``R`` and the other pools held on
one rule (the product optimizer with the others on the point forecast, :func:`rule_costs`; in the
sequential backtest, the term LP with the others on their current rules), and its purchases (with
what was already held) are billed by the evaluator on the actual usage of every pool in the
window: ``C_{o,j,R}``. Pools are scored together because they share commitments. The rule's regret there is
``C_{o,j,R} / min_R' C_{o,j,R'} − 1`` (relative to the best rule at that origin).

**Choice.** Per pool, the rule with the lowest root-mean-square regret over the last ``n`` records
(default 8),

    score_R = √( (1/n) Σ_o regret_{o,R}² ),

ties to the earlier rule of :data:`SIZING_RULES`; with no record yet, ``lp-calibrated``. The square
weighs one large loss more than several small ones, so a rule that is sometimes far off loses to
one that is consistently close: on the window backtest's 17 weekly origins of the Alibaba series
the mean-regret choice was at or below the best replay on 2 of 8 series, the RMS choice on 4
(bench/RESULTS-backtest.md, session 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from forecasting.forecast import Forecast, forecast
from forecasting.growth import Growth
from forecasting.pools import PooledUsage
from forecasting.scenarios import DemandScenarios
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize.offers import relevant_offers
from planner.optimize.solve import SolveSession
from planner.plan import Plan
from planner.policy import Policy
from planner.serverless import ServerlessSetup

SIZING_RULES: tuple[str, ...] = (
    "lp-calibrated",
    "lp-point",
    "trailing-30",
    "trailing-60",
    "trailing-7",
)
DEFAULT_RULE = "lp-calibrated"
#: past weekly windows on which a plan scores its sizing rules: 3 chose by noise (window backtest,
#: 9 series: 4 at or below the best replay with the mean, 4 with the RMS), 6 and 12 chose better
#: (RMS: 6 and 5 of 9; bench/RESULTS-backtest.md, session 8); each window costs the plan a forecast
#: and the window's scoring LPs (about 5.5 s on the example)
SIZING_ORIGINS = 6
H_DAY = 24


def trailing_days(rule: str) -> int | None:
    """``trailing-L`` → L; other rules → None."""
    return int(rule.split("-", 1)[1]) if rule.startswith("trailing-") else None


def rule_demand(
    rule: str,
    scenarios_gpus: np.ndarray,
    probabilities: np.ndarray,
    point_gpus: np.ndarray,
    history_gpus: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The demand input of one pool under ``rule``: (paths (S, H), probabilities (S,)).

    ``scenarios_gpus`` (S, H) and ``point_gpus`` (H,) are the forecast's for the pool;
    ``history_gpus`` its hourly usage before the origin (oldest first).
    """
    horizon = scenarios_gpus.shape[1]
    if rule == "lp-calibrated":
        return scenarios_gpus, probabilities
    if rule == "lp-point":
        return np.asarray(point_gpus, dtype=float)[None, :horizon], np.ones(1)
    days = trailing_days(rule)
    if days is None:
        raise ValueError(f"unknown sizing rule {rule!r}")
    look = history_gpus[-min(history_gpus.size, days * H_DAY) :]
    # end-aligned: hour h of the horizon repeats the lookback hour at the same position in its cycle
    reps = np.resize(look, horizon) if look.size else np.zeros(horizon)
    return reps[None, :], np.ones(1)


def combine(inputs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Pools' inputs → (S, H, P) demand and probabilities. Pools on a certain (one-path) rule
    repeat their path in every scenario of the pools on scenarios (all of which share the forecast's
    scenarios and probabilities)."""
    n_s = max(d.shape[0] for d, _ in inputs)
    probs = next((p for d, p in inputs if d.shape[0] == n_s), np.ones(1))
    cols = [np.broadcast_to(d, (n_s, d.shape[1])) if d.shape[0] == 1 else d for d, _ in inputs]
    return np.stack(cols, axis=2), probs


@dataclass
class RuleRecord:
    """Costs of every (pool, rule) at past origins: ``costs[(origin_h, pool)][rule]`` in USD."""

    costs: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)

    def add(self, origin_h: int, pool: str, rule: str, cost_usd: float) -> None:
        self.costs.setdefault((origin_h, pool), {})[rule] = cost_usd

    def regrets(self, pool: str, before_h: int, last: int) -> dict[str, list[float]]:
        """Per rule, its regret (%) at the last ``last`` origins of ``pool`` before ``before_h``."""
        keys = sorted(o for (o, p) in self.costs if p == pool and o < before_h)[-last:]
        out: dict[str, list[float]] = {}
        for o in keys:
            c = self.costs[(o, pool)]
            finite = [v for v in c.values() if math.isfinite(v)]
            best = min(finite, default=math.nan)
            for rule, v in c.items():
                if not math.isfinite(v):  # a rule with no finite bill there cannot win on it
                    r = math.inf
                else:
                    r = 100.0 * (v / best - 1.0) if best > 0 else 0.0
                out.setdefault(rule, []).append(r)
        return out

    def choose(
        self,
        pool: str,
        before_h: int,
        last: int = 8,
        *,
        rules: Sequence[str] = SIZING_RULES,
        default: str = DEFAULT_RULE,
    ) -> tuple[str, dict[str, float]]:
        """The rule with the lowest root-mean-square regret (module docstring) and every rule's
        RMS regret (%); ties go to the earlier rule of ``rules``; with no record, ``default``. Only
        rules scored at every origin of the record compete (a rule missing at some origin has no
        comparable score)."""
        reg = self.regrets(pool, before_h, last)
        n = max((len(v) for v in reg.values()), default=0)
        rms = {r: float(np.sqrt(np.mean(np.square(v)))) for r, v in reg.items() if v}
        full = [r for r in rules if r in rms and len(reg[r]) == n]
        if not full:
            return default, rms
        best = min(full, key=lambda r: (round(rms[r], 9), list(rules).index(r)))
        return best, rms

    def origins(self, pool: str, before_h: int) -> list[int]:
        """The origins of ``pool`` scored before ``before_h`` (oldest first)."""
        return sorted(o for (o, p) in self.costs if p == pool and o < before_h)


# --------------------------------------------------------------------------------------------
# With the product optimizer (window backtest and the quarterly run)
# --------------------------------------------------------------------------------------------


def rule_scenarios(rules: Sequence[str], fc: Forecast, history_gpus: np.ndarray) -> DemandScenarios:
    """The forecast's scenarios with pool ``p`` on ``rules[p]`` (history: hours × pools)."""
    sc = fc.scenarios
    point = fc.point_gpus if fc.point_gpus is not None else sc.expected()
    inputs = [
        rule_demand(
            r, sc.demand_gpus[:, :, p], sc.probabilities, point[: sc.n_hours, p], history_gpus[:, p]
        )
        for p, r in enumerate(rules)
    ]
    demand, probs = combine(inputs)
    return replace(
        sc,
        demand_gpus=np.ascontiguousarray(demand),
        probabilities=np.asarray(probs, dtype=float),
        meta={
            **sc.meta,
            "sizing_rules": {pl.name: r for pl, r in zip(sc.pools, rules, strict=True)},
        },
    )


#: at most this many scenarios in a scoring LP: larger sets are reduced by fast forward selection
SCORING_SCENARIOS = 10


def scoring_scenarios(scen: DemandScenarios, k: int = SCORING_SCENARIOS) -> DemandScenarios:
    """``scen`` with at most ``k`` scenarios, kept by fast forward selection on daily means
    (:func:`planner.optimize.scenario_reduction.reduce_scenarios`, probabilities redistributed).
    The LP's time grows about as S^1.8 and with the pools in it, so the record's estate-wide
    LPs (:func:`rule_costs`) are solved on a reduced set; the reduced plan is billed by the
    evaluator on what happened, like every other."""
    if scen.n_scenarios <= k:
        return scen
    from planner.optimize.scenario_reduction import reduce_scenarios

    return reduce_scenarios(scen, k, block_h=H_DAY)


def firm_purchases(
    rules: Sequence[str],
    fc: Forecast,
    history_gpus: np.ndarray,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
    *,
    max_scenarios: int | None = None,
    session: SolveSession | None = None,
) -> tuple[list[Commitment], str]:
    """The optimizer's firm purchases with pools on ``rules`` (an infeasible plan buys nothing);
    ``max_scenarios`` reduces the scenario set first (:func:`scoring_scenarios`); ``session``: the
    caller's simplex bases."""
    from planner.optimize import InfeasiblePlanError, optimize

    scen = rule_scenarios(rules, fc, history_gpus)
    if max_scenarios is not None:
        scen = scoring_scenarios(scen, max_scenarios)
    try:
        plan = optimize(scen, offers, list(inventory), policy, session=session)
    except InfeasiblePlanError as e:
        return [], f"no plan: {str(e).splitlines()[0]}"
    firm = plan.commitments(firm_only=True)
    return firm, f"{len(firm)} firm purchase(s)"


#: the rule the other pools are held on while one pool's rules are scored (cheap: one path)
BASELINE_RULE = "lp-point"


@dataclass(frozen=True)
class ScoringWindow:
    """One origin of the record: the forecast made there, the usage before it (hours × pools) and
    the actual usage of the window after it with its hours, and the commitments active then."""

    fc: Forecast
    history_gpus: np.ndarray
    actual_gpus: np.ndarray
    actual_ts: pd.DatetimeIndex
    inventory: tuple[Commitment, ...]


def rule_variants(n_pools: int, rules: Sequence[str] = SIZING_RULES) -> list[list[tuple[str, ...]]]:
    """Per pool ``j``, the rule assignments scored for it (``j`` on each rule, the others on
    :data:`BASELINE_RULE`), each assignment listed once: the all-baseline one, shared by every
    pool, under the first pool that has it."""
    seen: set[tuple[str, ...]] = set()
    out: list[list[tuple[str, ...]]] = []
    for p in range(n_pools):
        mine = []
        for r in rules:
            variant = tuple(r if q == p else BASELINE_RULE for q in range(n_pools))
            if variant not in seen:
                seen.add(variant)
                mine.append(variant)
        out.append(mine)
    return out


def variant_bills(
    window: ScoringWindow,
    variants: Sequence[tuple[str, ...]],
    offers: pd.DataFrame,
    policy: Policy,
) -> list[float]:
    """The evaluator's bill of the estate, on the window's actual usage, of the inventory plus
    the firm purchases the optimizer makes with the pools on each of ``variants`` (in order, one
    :class:`~planner.optimize.solve.SolveSession`: a variant's LP starts from the basis of the
    previous one of the same shape). Module-level, so it can run in a worker process."""
    pools = window.fc.scenarios.pools
    inventory = list(window.inventory)
    session = SolveSession()
    bills = []
    for variant in variants:
        coms, _ = firm_purchases(
            variant,
            window.fc,
            window.history_gpus,
            offers,
            inventory,
            policy,
            max_scenarios=SCORING_SCENARIOS if len(pools) > 1 else None,
            session=session,
        )
        ev = evaluate(
            [*inventory, *coms], window.actual_gpus, window.actual_ts, pools, offers, policy
        )
        bills.append(ev.total_usd)
    return bills


def score_windows(
    windows: Sequence[ScoringWindow],
    offers: pd.DataFrame,
    policy: Policy,
    rules: Sequence[str] = SIZING_RULES,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, dict[str, float]]]:
    """:func:`rule_costs` of every window, one task per (window, pool) (:func:`rule_variants`,
    :func:`variant_bills`) in worker processes when there are enough tasks
    (:func:`forecasting.parallel.map_pools`). Each task solves its own variants with its own
    session, so the scores do not depend on the number of workers."""
    from forecasting.parallel import map_pools, n_workers

    per_window = [rule_variants(len(w.fc.scenarios.pools), rules) for w in windows]
    tasks = [
        (w, mine, offers, policy)
        for w, by_pool in zip(windows, per_window, strict=True)
        for mine in by_pool
    ]
    if progress is not None and tasks:
        k = n_workers(len(tasks))
        progress(
            f"scoring {len(rules)} sizing rules at {len(windows)} origin(s): {len(tasks)} tasks"
            + (f" in {k} worker processes" if k > 1 else "")
        )
    results = iter(map_pools(variant_bills, tasks))
    out = []
    for w, by_pool in zip(windows, per_window, strict=True):
        bills: dict[tuple[str, ...], float] = {}
        for mine in by_pool:
            bills.update(zip(mine, next(results), strict=True))
        n_p = len(w.fc.scenarios.pools)
        out.append(
            {
                pool.name: {
                    r: bills[tuple(r if q == p else BASELINE_RULE for q in range(n_p))]
                    for r in rules
                }
                for p, pool in enumerate(w.fc.scenarios.pools)
            }
        )
    return out


def rule_costs(
    fc: Forecast,
    history_gpus: np.ndarray,
    actual_gpus: np.ndarray,
    actual_ts: pd.DatetimeIndex,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
    rules: Sequence[str] = SIZING_RULES,
) -> dict[str, dict[str, float]]:
    r"""Per pool and rule: the evaluator's bill of the whole estate, on the actual usage after the
    forecast's origin, of the firm purchases the optimizer makes with that pool on that rule and
    every other pool on :data:`BASELINE_RULE` (with the inventory). The record's entry for one
    origin.

    ``C_{o,j,R} = bill(inventory ∪ buy(R_j, baseline_{−j}); actual usage of all pools)``.

    The pools are optimised and billed together because they share commitments: a Compute Savings
    Plan or a regional RI held in the inventory serves every pool it covers, so pool ``j`` alone
    would see all of it as free capacity, buy nothing under any rule, and every rule would tie.
    The other pools are held on the same rule for every ``R``, so the differences between
    ``C_{o,j,R}`` over ``R`` are the effect of pool ``j``'s rule on the estate's bill; as every
    rule of pool ``j`` is compared on the same estate, the regret (relative to the best rule at
    ``o``) is a share of the estate's bill. The sequential backtest scores the same way with the
    other pools on their chosen rules (:mod:`planner.backtest.sequential`). The LPs run per pool
    (:func:`score_windows`)."""
    window = ScoringWindow(fc, history_gpus, actual_gpus, actual_ts, tuple(inventory))
    return score_windows([window], offers, policy, rules)[0]


@dataclass(frozen=True)
class RuleChoice:
    """The sizing rule chosen per pool and the record behind it (for plan.json and the report)."""

    rules: dict[str, str]
    rms_regret_pct: dict[str, dict[str, float]]
    origins: tuple[str, ...]
    window_hours: int
    note: str = ""
    #: per scored window, the hindsight optimum's realised utilisation and unused share (%)
    hindsight: tuple[dict[str, float], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "rules": self.rules,
            "rms_regret_pct_by_rule": self.rms_regret_pct,
            "origins": list(self.origins),
            "window_hours": self.window_hours,
            "method": "per pool, the rule with the lowest root-mean-square rolling-origin regret: the "
            "evaluator's bill of the whole estate (the other pools on the point forecast, shared "
            "commitments used where they serve) on the actual usage that followed, relative to "
            "the best rule for that pool at each origin",
            "note": self.note,
            "hindsight_windows": list(self.hindsight),
        }


def choose_rules_from_history(
    pooled: PooledUsage,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
    *,
    window_h: int = 7 * H_DAY,
    n_origins: int = SIZING_ORIGINS,
    n_scenarios: int = 30,
    seed: int = 0,
    growth: Growth | None = None,
    models: tuple[str, ...] | None = None,
    min_history_h: int = 14 * H_DAY,
    forecast_cache: dict[int, Forecast] | None = None,
    cost_cache: dict[int, dict[str, dict[str, float]]] | None = None,
    with_hindsight: bool = False,
    progress: Callable[[str], None] | None = None,
) -> RuleChoice:
    """Score every rule at the last ``n_origins`` origins ``o = n − i·W`` (i = 1..n_origins, with
    at least ``min_history_h`` hours of history before each) and choose per pool (module
    docstring). With no usable origin, every pool gets :data:`DEFAULT_RULE` (noted). The caches,
    keyed by origin hour, let a backtest reuse forecasts and scores across its windows (both
    depend only on the history before the origin and the window after it). ``with_hindsight``
    also solves each window's hindsight optimum (for :mod:`planner.backtest.safety`)."""
    from planner.backtest.strategies import history_before, usage_matrix

    say = progress or (lambda _m: None)
    n = pooled.n_hours
    origins = [n - i * window_h for i in range(1, n_origins + 1)]
    origins = sorted(o for o in origins if o >= min_history_h)
    pols = [p.name for p in pooled.pools]
    if not origins:
        return RuleChoice(
            {p: DEFAULT_RULE for p in pols}, {}, (), window_h, "too little history to score rules"
        )
    # firm purchases only are scored; no savings curves (not evaluated); every LP and bill reads
    # only the offers the pools and inventory can use (the same results, far fewer rows)
    pol = replace(policy, savings_curve_points=0)
    offers = relevant_offers(offers, pooled.pools, inventory)
    record = RuleRecord()
    cache = forecast_cache if forecast_cache is not None else {}
    scores = cost_cache if cost_cache is not None else {}
    new = [o for o in origins if o not in scores]
    windows = []
    for o in new:
        if o not in cache:
            say(f"forecasting at the origin {pooled.index[o]:%Y-%m-%d %H:%M}")
            cache[o] = forecast(
                history_before(pooled, o),
                horizon_hours=window_h,
                n_scenarios=n_scenarios,
                seed=seed,
                growth=growth,
                models=models,
            )
        u_hist, _ = usage_matrix(pooled, 0, o)
        u_win, ts_win = usage_matrix(pooled, o, o + window_h)
        active = tuple(c for c in inventory if c.start <= pd.Timestamp(ts_win[0]) < c.end)
        windows.append(ScoringWindow(cache[o], u_hist, u_win, ts_win, active))
    scores.update(zip(new, score_windows(windows, offers, pol, progress=say), strict=True))
    stamps = []
    hs_windows: list[dict[str, float]] = []
    for o in origins:
        for pool, by_rule in scores[o].items():
            for r, v in by_rule.items():
                record.add(o, pool, r, v)
        if with_hindsight:
            hs_windows.append(_hindsight_figures(pooled, o, window_h, offers, inventory, pol))
        stamps.append(pd.Timestamp(pooled.index[o]).isoformat())
    rules, rms = {}, {}
    for p in pols:
        rules[p], rms[p] = record.choose(p, n + 1, last=len(origins))
    return RuleChoice(rules, rms, tuple(stamps), window_h, hindsight=tuple(hs_windows))


def _hindsight_figures(
    pooled: PooledUsage,
    o: int,
    window_h: int,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
) -> dict[str, float]:
    """The hindsight optimum of window ``[o, o + W)`` billed by the evaluator: its realised
    commitment utilisation and unused share of commitment spend (%)."""
    from planner.backtest.hindsight import hindsight_optimum
    from planner.backtest.strategies import usage_matrix

    u, ts = usage_matrix(pooled, o, o + window_h)
    start = pd.Timestamp(ts[0])
    active = [c for c in inventory if c.start <= start < c.end]
    hs = hindsight_optimum(u, start, pooled.pools, offers, policy)
    ev = evaluate([*active, *hs.commitments], u, ts, pooled.pools, offers, policy)
    spend = float(sum(ev.commitment_spend_usd.values()))
    return {
        "window_start": float(o),
        "utilization_pct": 100.0 * ev.utilization if spend > 0 else float("nan"),
        "unused_pct": 100.0 * ev.waste_usd / spend if spend > 0 else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# The quarterly run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizedInput:
    """What the quarterly run hands the optimizer: the scenarios with each pool on its chosen rule,
    the policy the LP sizes with (the user's, risk bounds under every rule; without the default
    bound when the run dropped it), and the record for plan.json."""

    scenarios: DemandScenarios
    policy: Policy
    record: dict[str, object]
    calibrated: DemandScenarios
    hindsight: tuple[dict[str, float], ...] = ()

    def plan_record(
        self,
        plan: Plan,
        offers: pd.DataFrame,
        inventory: Sequence[Commitment],
        serverless: ServerlessSetup | None = None,
    ) -> dict[str, object]:
        """``sizing`` (the rule per pool and its backtest) and ``price_of_safety`` (each bound's
        cost, :mod:`planner.backtest.safety`, billed on the calibrated scenarios, with the run's
        serverless options ``serverless``) for plan.json."""
        from planner.backtest.safety import price_of_safety

        safety = price_of_safety(
            self.scenarios,
            offers,
            inventory,
            self.policy,
            plan,
            bill_on=self.calibrated,
            hindsight=self.hindsight,
            serverless=serverless,
        )
        return {"sizing": self.record, "price_of_safety": safety}


def size_for_plan(
    pooled: PooledUsage,
    fc: Forecast,
    offers: pd.DataFrame,
    inventory: Sequence[Commitment],
    policy: Policy,
    *,
    seed: int = 0,
    n_scenarios: int = 30,
    n_origins: int = SIZING_ORIGINS,
    window_h: int = 7 * H_DAY,
    forecast_cache: dict[int, Forecast] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SizedInput:
    """Choose each pool's sizing rule on the last ``n_origins`` weeks of the history
    (:func:`choose_rules_from_history`) and apply it to the plan's forecast. ``forecast_cache``
    (by origin hour) lets runs on the same history and demand settings, such as what-ifs, share
    the backtest forecasts."""
    from planner.backtest.strategies import usage_matrix

    choice = choose_rules_from_history(
        pooled,
        offers,
        inventory,
        policy,
        window_h=window_h,
        n_origins=n_origins,
        n_scenarios=n_scenarios,
        seed=seed,
        forecast_cache=forecast_cache,
        with_hindsight=True,
        progress=progress,
    )
    rules = tuple(choice.rules[p.name] for p in fc.scenarios.pools)
    u_hist, _ = usage_matrix(pooled, 0, pooled.n_hours)
    return SizedInput(
        scenarios=rule_scenarios(rules, fc, u_hist),
        policy=policy,
        record=choice.to_dict(),
        calibrated=fc.scenarios,
        hindsight=choice.hindsight,
    )


def sizing_frame(record: dict[str, object]) -> pd.DataFrame:
    """plan.json's ``sizing`` record as a table: pool, chosen rule, RMS regret of every rule (%)
    (a plan.json written before the RMS choice holds mean regrets: read as such)."""
    sizing = record.get("sizing")
    if not isinstance(sizing, dict):
        return pd.DataFrame()
    rules = sizing.get("rules", {})
    rms = "rms_regret_pct_by_rule" in sizing
    regret = sizing.get("rms_regret_pct_by_rule" if rms else "mean_regret_pct_by_rule") or {}
    label = "RMS regret %" if rms else "mean regret %"
    rows = []
    for pool, rule in rules.items():
        row: dict[str, object] = {"pool": pool, "rule": rule}
        for r in SIZING_RULES:
            v = regret.get(pool, {}).get(r)
            row[f"{r} {label}"] = None if v is None else round(float(v), 2)
        rows.append(row)
    return pd.DataFrame(rows)
