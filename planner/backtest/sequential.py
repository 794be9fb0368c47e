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
               ``o_j``; per pool the sizing rule with the best cost record so far among the
               replay rules ``replay-L`` (Cost Explorer's recommendation for the pool given the
               planner's own coverage: the simple rule it can always observe) and the LP rules of
               :mod:`planner.backtest.sizing`; the LP (:func:`solve_term_lp`) buys at ``o_j``
               given the inventory held, on weekly duration curves (6 blocks) of the chosen demand,
               with the policy's minimum utilisation on calibrated scenarios, and a tentative
               ladder at the later decision dates inside its horizon (so it can plan to buy when
               held commitments expire rather than overlap them now; only ``o_j``'s are bought);
``planner-<rule>``  (optional) the same with one rule fixed, to show what the choice is worth;
``hindsight``  one LP over the whole evaluated span, hourly, on the actual usage, with a purchase
               date at every decision hour (LP relaxation, no risk bounds): the lower bound.

Every strategy's commitments are billed once by the evaluator over ``[o_0, n)`` (each commitment
for its active hours inside the trace; the tail of a term beyond the trace is neither billed nor
credited, for every strategy and the hindsight alike). ``regret = C / C* − 1`` over the whole span;
per decision period the hourly bill is split to show when a strategy lost.

The rule record: at every decision, for each pool and rule, the purchases with that pool on that
rule are computed given the planner's inventory. At each later decision, the purchases of the last
``record_last`` origins are billed (with what was held then) on everything that has happened
since their origin, so a commitment that proves too big keeps counting against its rule for as
long as it runs (term risk), not only in the first ``K`` days. With ``charge_remainder`` (off
by default, see the setting) each rule's purchases also carry the expected unused spend of the part of their terms
still to run, at the utilisation each has shown so far (:func:`remainder_charge_usd`); without
it the record bills the realised span only, where a long term is silently assumed to be worth
what it costs for the rest of its term. Per pool the rule with the lowest
root-mean-square regret on that record is chosen (:meth:`~planner.backtest.sizing.RuleRecord.
choose`); since the replay rules are candidates, the chosen rule's RMS regret on the record is
never above a replay rule's ("beat the simple rule, or use it").

Before the first decision the record is started inside the training history: the rules are
scored at ``o_0 − i·prescore_every`` (i = 1..``prescore_origins``, each with at least
``prescore_min_history`` hours before it; the planner holding nothing) and billed on what happened
up to ``o_0``, as the plan command scores its rules on the history's own past weeks. A pool with
no record at all follows the fallback replay rule (``replay-30``, Cost Explorer's default).

Term cap: the record has billed purchases only over the span ``E = o_j − (its oldest origin)``;
an LP rule may not buy a term whose mapped length exceeds ``max(E, shortest term)`` (a longer
commitment's term risk is not yet evidenced). The replay rules are not capped (they are what the
tool observes and compares with), unless ``cap_replay_rules`` (a diagnostic: the record bills the
realised span only, where an uncapped 84-day term looks cheaper per hour than a capped LP rule's
28-day term, so with the replay rules uncapped the LP rules rarely win the record).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
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
from planner.evaluate import Evaluation, evaluate
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
    #: rules scored inside the history before the first decision: origins o_0 − i·every (i ≤ n)
    prescore_origins: int = 3
    prescore_every_h: int = 7 * H_DAY
    prescore_min_history_h: int = 7 * H_DAY
    #: the rule of a pool with no record yet (Cost Explorer's default 30-day lookback)
    fallback_rule: str = "replay-30"
    #: no LP purchase with a mapped term longer than the span the record has billed
    term_cap: bool = True
    #: also cap the planner's replay rules (diagnostic; off by default): the record bills each
    #: rule on the realised span only, where an uncapped long term looks cheaper per hour than the
    #: capped LP rules' short terms, so capping only the LP rules makes them lose the record
    cap_replay_rules: bool = False
    #: charge, in the record, each rule's purchases for the unexpired part of their terms at the
    #: utilisation they have shown so far (:func:`remainder_charge_usd`). Off by default: measured
    #: on three series it helps only with the term cap off, and then not everywhere
    #: (bench/RESULTS-backtest.md, session 4)
    charge_remainder: bool = False
    #: a pool may follow an LP rule only once its record has billed a whole shortest term
    #: (before that only the replay rules compete; diagnostic, off by default)
    lp_after_full_term: bool = False


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


@dataclass(frozen=True)
class _Origin:
    """What a decision at hour ``o`` sees: the history before it and each LP rule's demand input
    per pool (``inputs[rule][pool]`` = (paths, probabilities))."""

    o: int
    now: pd.Timestamp
    u_hist: np.ndarray
    ts_hist: pd.DatetimeIndex
    inputs: dict[str, list[tuple[np.ndarray, np.ndarray]]]


def replay_days(rule: str) -> int | None:
    """``replay-L`` → L (Cost Explorer's recommendation over the last L days); else None."""
    return int(rule.split("-", 1)[1]) if rule.startswith("replay-") else None


def sequential_rules(settings: SequentialSettings) -> tuple[str, ...]:
    """The candidate sizing rules of the sequential planner, in tie-break order: the fallback
    replay rule first (when the record cannot tell rules apart, e.g. every lookback saw the same
    short history, the default is kept), then the other replay rules it can always observe, then
    the LP rules of :data:`SIZING_RULES`."""
    replays = [f"replay-{d}" for d in settings.lookbacks_days]
    first = [settings.fallback_rule] if settings.fallback_rule in replays else []
    return (*first, *(r for r in replays if r not in first), *SIZING_RULES)


def term_cap_hours(min_term_h: int, evidence_h: int) -> int:
    """The longest mapped term an LP rule may buy: the span of realised usage on which the rule
    record has billed purchases (``evidence_h``), and at least the shortest term (else the LP
    rules could buy nothing and the replay fallback would be the only rule)."""
    return max(min_term_h, int(evidence_h))


def _cap(settings: SequentialSettings, min_term_h: int, evidence_h: int) -> int | None:
    return term_cap_hours(min_term_h, evidence_h) if settings.term_cap else None


def _mapped(
    coms: Sequence[Commitment], tag: str, table: CostTable, settings: SequentialSettings
) -> list[tuple[Commitment, int, float]]:
    """Replay's commitments with their mapped term, candidate row and units."""
    out = []
    for n, c in enumerate(coms):
        c2 = replace(
            c,
            commitment_id=f"{tag}" if len(coms) == 1 else f"{tag}-{n + 1}",
            end=c.start + pd.Timedelta(hours=term_hours(c.term_months, settings.term_scale)),
        )
        units = c.hourly_commitment_usd if c.is_savings_plan else c.quantity
        out.append((c2, _cand_of(table, c2), units))
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


class _Planner:
    """The planner's side of a sequential run: forecasts at an origin, purchases on a choice of
    rules, and the pending purchases of every rule that the record bills later."""

    def __init__(
        self,
        pooled: PooledUsage,
        offers: pd.DataFrame,
        policy: Policy,
        settings: SequentialSettings,
        table: CostTable,
        horizon_h: int,
        u_all: np.ndarray,
        ts_all: pd.DatetimeIndex,
        timing: dict[str, float],
        notes: list[str],
    ) -> None:
        self.pooled, self.offers, self.policy, self.settings = pooled, offers, policy, settings
        self.table, self.horizon_h, self.u_all, self.ts_all = table, horizon_h, u_all, ts_all
        self.timing, self.notes = timing, notes
        self.pools = pooled.pools
        self.rules = sequential_rules(settings)
        self.pending: list[tuple[int, str, str, list[Commitment], list[Commitment]]] = []

    def context(self, o: int) -> _Origin:
        """The forecast from the history before hour ``o`` and each LP rule's demand input."""
        t1 = time.perf_counter()
        fc = forecast(
            history_before(self.pooled, o),
            horizon_hours=self.horizon_h,
            n_scenarios=self.settings.n_scenarios,
            seed=self.settings.seed,
            models=self.settings.forecast_models,
        )
        self.timing["forecast_s"] += time.perf_counter() - t1
        scen = fc.scenarios.demand_gpus
        probs = fc.scenarios.probabilities
        point = fc.point_gpus if fc.point_gpus is not None else fc.scenarios.expected()
        inputs = {
            rule: [
                rule_demand(rule, scen[:, :, p], probs, point[:, p], self.u_all[:o, p])
                for p in range(len(self.pools))
            ]
            for rule in SIZING_RULES
        }
        return _Origin(o, pd.Timestamp(self.ts_all[o]), self.u_all[:o], self.ts_all[:o], inputs)

    def purchases(
        self, chosen: tuple[str, ...], book: _Book, at: _Origin, max_term_h: int | None, tag: str
    ) -> list[tuple[Commitment, int, float]]:
        """Pools on an LP rule: the term LP on their chosen demand (pools on a replay rule count
        as no demand there); pools on a replay rule: Cost Explorer's recommendation for the pool
        alone given the book's coverage (never term-capped: it is the rule the tool observes)."""
        out: list[tuple[Commitment, int, float]] = []
        if any(replay_days(r) is None for r in chosen):
            parts = [
                at.inputs[r][p]
                if replay_days(r) is None
                else (np.zeros((1, self.horizon_h)), np.ones(1))
                for p, r in enumerate(chosen)
            ]
            demand, pr = combine(parts)
            out += _decide(
                demand,
                pr,
                self.table,
                book,
                at.now,
                tag,
                self.settings,
                self.policy,
                self.horizon_h,
                self.notes,
                max_term_h,
            )
        for p, r in enumerate(chosen):
            d = replay_days(r)
            if d is None:
                continue
            t0 = time.perf_counter()
            rec = replay_recommendation(
                at.u_hist[:, p : p + 1],
                at.ts_hist,
                (self.pools[p],),
                self._replay_offers(max_term_h),
                self.policy,
                start=at.now,
                lookback_days=d,
                held=book.active_at(at.now),
            )
            out += _mapped(rec.commitments, f"{tag}-{r}", self.table, self.settings)
            self.timing["replay_s"] += time.perf_counter() - t0
        return out

    def _replay_offers(self, max_term_h: int | None) -> pd.DataFrame:
        """The offers the planner's replay rules may buy: all of them, or with
        ``cap_replay_rules`` only terms whose mapped length is within ``max_term_h``."""
        if max_term_h is None or not self.settings.cap_replay_rules:
            return self.offers
        terms = pd.to_numeric(self.offers["term_months"], errors="coerce").fillna(0).astype(int)
        keep = [t == 0 or term_hours(t, self.settings.term_scale) <= max_term_h for t in terms]
        return self.offers[np.asarray(keep, dtype=bool)]

    def score_variants(
        self, at: _Origin, chosen: tuple[str, ...], book: _Book, max_term_h: int | None, tag: str
    ) -> list[tuple[Commitment, int, float]]:
        """The purchases on ``chosen``; and, for the record, every rule for every pool (the
        other pools on their chosen rule), billed at the later decisions."""
        cache = {chosen: self.purchases(chosen, book, at, max_term_h, tag)}
        held_now = book.active_at(at.now)
        n_p = len(self.pools)
        for pi, pool in enumerate(self.pools):
            for rule in self.rules:
                variant = tuple(rule if q == pi else chosen[q] for q in range(n_p))
                if variant not in cache:
                    cache[variant] = self.purchases(variant, book, at, max_term_h, tag)
                coms = [com for com, _, _ in cache[variant]]
                self.pending.append((at.o, pool.name, rule, coms, held_now))
        return cache[chosen]

    def prescore(
        self, o0: int, fallback: str, max_term_h: int | None, say: Callable[[str], None]
    ) -> None:
        """The record before the first decision: rules scored at rolling origins inside the
        training history, ``o_0 − i·every`` (as the plan command scores its rules), the planner
        holding nothing and every pool on the fallback; billed at the first decision."""
        st = self.settings
        inner = sorted(
            o0 - i * st.prescore_every_h
            for i in range(1, st.prescore_origins + 1)
            if o0 - i * st.prescore_every_h >= st.prescore_min_history_h
        )
        for k, o_in in enumerate(inner):
            say(
                f"scoring sizing rules in the history at {pd.Timestamp(self.ts_all[o_in]):%Y-%m-%d}"
            )
            at = self.context(o_in)
            t2 = time.perf_counter()
            chosen = tuple(fallback for _ in self.pools)
            self.score_variants(at, chosen, _Book(), max_term_h, f"pre{k + 1}")
            self.timing["lp_s"] += time.perf_counter() - t2

    def bill_record(self, o: int, record: RuleRecord) -> None:
        """Each rule's purchases at the last ``record_last`` origins before ``o``, billed (with
        what was held then) on everything that has happened since (so a long commitment that
        turned out too big keeps counting against its rule)."""
        recent = sorted({e[0] for e in self.pending if e[0] < o})[-self.settings.record_last :]
        for o_r, pool_name, rule, coms_r, held_r in self.pending:
            if o_r in recent:
                bill = evaluate(
                    [*held_r, *coms_r],
                    self.u_all[o_r:o],
                    self.ts_all[o_r:o],
                    self.pools,
                    self.offers,
                    self.policy,
                )
                tail = 0.0
                if self.settings.charge_remainder:
                    tail = remainder_charge_usd(coms_r, bill, pd.Timestamp(self.ts_all[o]))
                record.add(o_r, pool_name, rule, bill.total_usd + tail)


def remainder_charge_usd(
    bought: Sequence[Commitment], bill: Evaluation, now: pd.Timestamp
) -> float:
    r"""The expected unused spend of ``bought`` over the unexpired part of their terms, at the
    utilisation each has shown in ``bill`` (the record's span, up to ``now``):

    ``Σ_c (1 − u_c) · (spend_c / h_c) · max(0, end_c − now)``

    with ``u_c`` the commitment's realised utilisation, ``spend_c`` its spend over the ``h_c``
    hours it was active in the span. Billed on the realised span alone, a long term looks as good
    as its rate: the part of its term still to run is silently assumed worth what it costs. This
    charges that part at its record (persistence of utilisation), so an 84-day term that ran half
    empty for a week carries 77 more days of that waste, and a well-used one carries almost none.
    A purchase not active yet in the span (it starts later) is not charged."""
    out = 0.0
    for c in bought:
        spend = bill.commitment_spend_usd.get(c.commitment_id, 0.0)
        util = bill.commitment_utilization.get(c.commitment_id)
        if spend <= 0 or util is None or not np.isfinite(util):
            continue
        active_h = (min(c.end, now) - c.start) / pd.Timedelta(hours=1)
        left_h = (c.end - now) / pd.Timedelta(hours=1)
        if active_h <= 0 or left_h <= 0:
            continue
        out += max(0.0, 1.0 - util) * spend / active_h * left_h
    return out


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
    rules = sequential_rules(settings)
    fallback = rules[0]
    min_term_h = min(
        term_hours(int(m), settings.term_scale) for m in table.candidates["term_months"].unique()
    )
    decision_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    timing = {"forecast_s": 0.0, "lp_s": 0.0, "replay_s": 0.0, "hindsight_s": 0.0}
    run = _Planner(pooled, offers, policy, settings, table, horizon_h, u_all, ts_all, timing, notes)
    run.prescore(o0, fallback, _cap(settings, min_term_h, 0), say)
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
            book.held += _mapped(choice.commitments, f"replay{d}-{j + 1}", table, settings)
        timing["replay_s"] += time.perf_counter() - t0
        at = run.context(o)
        t2 = time.perf_counter()
        run.bill_record(o, record)
        # the planner's choice per pool from its record (the fallback replay rule with none), and
        # the term cap: no LP purchase longer than the realised span the record has billed
        chosen = []
        scores_all = {}
        evidence_h = []
        for p in pools:
            past = record.origins(p.name, o)
            evidence_h.append(o - past[0] if past else 0)
            cands = rules
            if settings.lp_after_full_term and evidence_h[-1] < min_term_h:
                cands = tuple(r for r in rules if replay_days(r) is not None)
            rule, scores = record.choose(
                p.name, o, settings.record_last, rules=cands, default=fallback
            )
            chosen.append(rule)
            scores_all[p.name] = scores
        cap_h = _cap(settings, min_term_h, min(evidence_h))
        planner_book = books["planner"]
        bought = run.score_variants(at, tuple(chosen), planner_book, cap_h, f"d{j + 1}")
        planner_book.held += bought
        for r in settings.fixed_rules:
            book = books[f"planner-{r}"]
            book.held += run.purchases(tuple(r for _ in pools), book, at, cap_h, f"{r}{j + 1}")
        timing["lp_s"] += time.perf_counter() - t2
        decision_rows.append(
            {
                "decision": j + 1,
                "time": now.isoformat(),
                **{f"rule[{p.name}]": r for p, r in zip(pools, chosen, strict=True)},
                **{
                    f"rms_regret[{p.name}]": scores_all[p.name].get(r, math.nan)
                    for p, r in zip(pools, chosen, strict=True)
                },
                **{
                    f"best_replay_regret[{p.name}]": min(
                        (v for k, v in scores_all[p.name].items() if replay_days(k) is not None),
                        default=math.nan,
                    )
                    for p in pools
                },
                "evidence_days": round(min(evidence_h) / H_DAY, 1),
                "max_term_days": None if cap_h is None else round(cap_h / H_DAY, 1),
                "record": "; ".join(
                    f"{p}: " + ", ".join(f"{r} {v:.2f}%" for r, v in m.items())
                    for p, m in scores_all.items()
                    if m
                ),
                "bought": "; ".join(
                    f"{c.offer_id} x {c.hourly_commitment_usd if c.is_savings_plan else c.quantity:g}"
                    for c, _, _ in bought
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
        "first_purchases": {
            name: sorted(
                [c.offer_id, round(u, 6)]
                for c, _, u in b.held
                if c.start == pd.Timestamp(ts_all[o0])
            )
            for name, b in books.items()
            if name != "hindsight"
        },
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
    max_term_h: int | None = None,
) -> list[tuple[Commitment, int, float]]:
    """The LP's purchases at ``now`` for ``demand`` (S, H, P) given ``book``'s inventory; the
    policy's minimum utilisation applies to scenario inputs (dropped, with a note, when the held
    inventory alone makes it infeasible)."""
    slices = duration_slices(demand, probabilities, settings.period_h, settings.blocks)
    bound = policy.min_utilization if demand.shape[0] > 1 else None
    held = book.lp_held(now)

    # purchase dates now and at every later decision inside the horizon: the LP may plan to buy
    # when held commitments expire instead of overlapping them now; only "now" is bought
    dates = list(range(0, horizon_h, settings.every_h))

    def lp(bound_: float | None) -> dict[tuple[int, int], float]:
        return solve_term_lp(
            table,
            slices,
            decision_hours=dates,
            term_scale=settings.term_scale,
            held=held,
            spot_cap_share=policy.spot_cap_share,
            min_utilization=bound_,
            min_utilization_tail=policy.min_utilization_tail,
            horizon_h=horizon_h,
            max_term_h=max_term_h,
        ).buy

    try:
        buy = lp(bound)
    except PlannerInputError:
        notes.append(f"{tag}: minimum utilisation infeasible with the inventory held; dropped")
        buy = lp(None)
    buy = {k: v for k, v in buy.items() if k[1] == 0}
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
