"""The term-mapped backtest LP (hand-derived optima), the sequential backtest, replay given held
coverage, and the sizing-rule record."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bt_factory import H100, compute_sp, offers, pooled, weekly
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.backtest.replay import replay_recommendation
from planner.backtest.sequential import (
    SequentialSettings,
    replay_days,
    run_sequential,
    term_cap_hours,
)
from planner.backtest.sizing import RuleRecord, combine, rule_demand
from planner.backtest.term_lp import (
    cost_table,
    duration_slices,
    hourly_slices,
    parse_term_scale,
    solve_term_lp,
    term_hours,
)
from planner.policy import Policy
from pricing_data.errors import PlannerInputError

# only the 12-month standard RI (6 USD/GPU-h against 10 on demand: break-even at 60 % use)
RI_ONLY = Policy(
    providers=("aws",),
    purchase_models=("reserved_instance",),
    terms_months=(12,),
    payment_options=("no_upfront",),
    integer=False,
    savings_curve_points=0,
).validate()


def test_term_scale_parsing() -> None:
    assert parse_term_scale(None) == {12: 28 * 24, 36: 84 * 24}
    assert parse_term_scale("1y=2w,3y=42d") == {12: 14 * 24, 36: 42 * 24}
    assert parse_term_scale("none") is None
    assert term_hours(36, {12: 24}) == 72  # unmapped terms scale like the shortest mapped one
    for bad in ("1y", "1y=xd", "1y=0d"):
        with pytest.raises(PlannerInputError):
            parse_term_scale(bad)


def test_hindsight_buys_again_when_the_mapped_term_expires() -> None:
    # 10 GPUs for 48 h, decisions at h 0 and 24, the 12-month RI mapped to 24 h. Each unit saves
    # 10 − 6 = 4 USD per hour it covers, so the optimum buys 10 units at h 0 and again at h 24
    # (the first ten have expired): cost 48 · 10 · 6 = 2,880 USD.
    table = cost_table(offers(), (H100,), RI_ONLY)
    res = solve_term_lp(
        table, hourly_slices(np.full((48, 1), 10.0)), decision_hours=[0, 24], term_scale={12: 24}
    )
    assert sorted(round(v, 6) for v in res.buy.values()) == [10.0, 10.0]
    assert res.objective_usd == pytest.approx(2880.0)


def test_held_units_are_not_bought_again() -> None:
    # 10 GPUs held until h 24, 10 GPUs demanded for 48 h, one decision at h 0 with a 48-h term.
    # A new unit costs 6 · 48 = 288 USD and saves 10 USD only in the 24 h the held units do not
    # cover (240 USD): nothing is bought.
    table = cost_table(offers(), (H100,), RI_ONLY)
    res = solve_term_lp(
        table,
        hourly_slices(np.full((48, 1), 10.0)),
        decision_hours=[0],
        term_scale={12: 48},
        held=[(0, 10.0, -24, 24)],
    )
    assert sum(res.buy.values()) == pytest.approx(0.0, abs=1e-6)


def test_min_utilization_bound_in_the_tail_scenario() -> None:
    # Two scenarios for 24 h: 10 GPUs (p = 0.8) and 5 GPUs (p = 0.2). Without a bound the level
    # is 10 (the 6th..10th unit saves 0.8·10 − 6 = 2 per hour). With 80 % minimum utilisation in
    # the worst 10 % (the 5-GPU scenario): 5 ≥ 0.8·x, so x = 6.25.
    table = cost_table(offers(), (H100,), RI_ONLY)
    demand = np.stack([np.full((24, 1), 10.0), np.full((24, 1), 5.0)])
    sl = duration_slices(demand, np.array([0.8, 0.2]), 24, 4)
    free = solve_term_lp(table, sl, decision_hours=[0], term_scale={12: 24})
    bound = solve_term_lp(table, sl, decision_hours=[0], term_scale={12: 24}, min_utilization=0.8)
    assert sum(free.buy.values()) == pytest.approx(10.0)
    assert sum(bound.buy.values()) == pytest.approx(6.25)


def test_replay_given_held_coverage_buys_only_the_gap() -> None:
    # A flat 50 GPUs: Cost Explorer's replay recommends 50 RIs; holding 30 of them, it
    # recommends the remaining 20; holding all 50, nothing.
    u = np.full((7 * 24, 1), 50.0)
    ts = pd.date_range("2026-01-05", periods=u.shape[0], freq="h", tz="UTC")
    start = ts[-1] + pd.Timedelta(hours=1)
    pol = RI_ONLY
    first = replay_recommendation(u, ts, (H100,), offers(), pol, start=start, lookback_days=7)
    assert first.level == pytest.approx(50.0)
    held = first.commitments[0]
    from dataclasses import replace

    part = replace(held, quantity=30.0)
    gap = replay_recommendation(
        u, ts, (H100,), offers(), pol, start=start, lookback_days=7, held=[part]
    )
    assert gap.level == pytest.approx(20.0)
    full = replay_recommendation(
        u, ts, (H100,), offers(), pol, start=start, lookback_days=7, held=[held]
    )
    assert full.chosen == ""


def test_rule_record_chooses_the_lowest_rms_regret() -> None:
    rec = RuleRecord()
    # origin 0: point is best (100), calibrated 110 (10 %); origin 168: calibrated 100, point 104
    # RMS regrets: calibrated √((10² + 0²)/2) = √50, point √((0² + 4²)/2) = √8
    rec.add(0, "p", "lp-calibrated", 110.0)
    rec.add(0, "p", "lp-point", 100.0)
    rec.add(168, "p", "lp-calibrated", 100.0)
    rec.add(168, "p", "lp-point", 104.0)
    rule, rms = rec.choose("p", before_h=1000)
    assert rms == pytest.approx({"lp-calibrated": 50**0.5, "lp-point": 8**0.5})
    assert rule == "lp-point"
    # only origins before the decision count
    assert rec.choose("p", before_h=100)[0] == "lp-point"
    assert rec.choose("p", before_h=0)[0] == "lp-calibrated"  # no record: the default


def test_a_rule_that_is_sometimes_far_off_loses_to_one_that_is_consistently_close() -> None:
    # regrets (%) at three origins: lp-calibrated 0, 0, 12 (mean 4, RMS √48 = 6.93);
    # lp-point 5, 5, 5 (mean 5, RMS 5). The mean would pick lp-calibrated; the RMS picks lp-point.
    # (trailing-7 is best at the third origin, 20 % off at the others: RMS √(800/3), not chosen)
    rec = RuleRecord()
    costs = ((100.0, 105.0, 120.0), (100.0, 105.0, 120.0), (112.0, 105.0, 100.0))
    for i, (calibrated, point, trailing) in enumerate(costs):
        rec.add(168 * i, "p", "lp-calibrated", calibrated)
        rec.add(168 * i, "p", "lp-point", point)
        rec.add(168 * i, "p", "trailing-7", trailing)
    rule, rms = rec.choose("p", before_h=1000)
    assert rms["lp-calibrated"] == pytest.approx(48**0.5)
    assert rms["lp-point"] == pytest.approx(5.0)
    assert rule == "lp-point"


def test_rule_inputs_and_combination() -> None:
    scen = np.arange(12.0).reshape(3, 4)
    probs = np.full(3, 1 / 3)
    hist = np.arange(100.0)
    d, p = rule_demand("trailing-7", scen, probs, np.zeros(4), hist)
    assert d.shape == (1, 4) and p.tolist() == [1.0]
    d_point, _ = rule_demand("lp-point", scen, probs, np.array([1.0, 2, 3, 4]), hist)
    demand, pr = combine([(scen, probs), (d_point, np.ones(1))])
    assert demand.shape == (3, 4, 2) and np.allclose(pr, probs)
    assert np.allclose(demand[:, :, 1], [1, 2, 3, 4])
    with pytest.raises(ValueError):
        rule_demand("guess", scen, probs, np.zeros(4), hist)


@pytest.fixture(scope="module")
def seq_result():
    # 35 days of the exactly weekly series; decisions every 7 days from day 14; the 12-month
    # terms mapped to 7 days. Every strategy re-buys each week.
    pool = pooled(weekly(35))
    settings = SequentialSettings(
        every_h=7 * 24, term_scale={12: 7 * 24}, n_scenarios=5, fixed_rules=("lp-point",)
    )
    pol = Policy(
        providers=("aws",),
        purchase_models=("reserved_instance", "ec2_instance_savings_plan"),
        terms_months=(12,),
        payment_options=("no_upfront",),
        savings_curve_points=0,
    ).validate()
    return run_sequential(pool, offers(), pol, settings)


def test_sequential_hindsight_is_a_lower_bound(seq_result) -> None:
    s = seq_result.summary.set_index("strategy")
    assert s.at["hindsight", "regret_pct"] == 0.0
    for name in s.index:
        assert s.at[name, "regret_pct"] >= -1e-6, name
    assert seq_result.meta["decisions"] == 3
    # the weekly series repeats exactly: replay-7 is optimal, so its regret is ~0, and so is
    # the planner on the point forecast (a seasonal series the models forecast closely)
    assert s.at["replay-7", "regret_pct"] == pytest.approx(0.0, abs=0.5)
    assert s.at["planner-lp-point", "regret_pct"] < 5.0
    assert math.isfinite(s.at["planner", "regret_pct"])


def test_sequential_commitments_expire_at_the_mapped_term(seq_result) -> None:
    d = seq_result.decisions
    assert len(d) == 3 and "rule[H100/fixed@us-east-1]" in d.columns
    # the periods frame splits the bill per decision period for every strategy
    per = seq_result.periods
    assert set(per["period"]) == {1, 2, 3}


def test_sequential_needs_history_after_the_first_decision() -> None:
    with pytest.raises(PlannerInputError, match="too short"):
        run_sequential(pooled(weekly(10)), offers(), RI_ONLY, SequentialSettings())


# --- issue 12 step 1: the record before the first decision, replay rules, the term cap -----------

REPLAYS = ("replay-7", "replay-30", "replay-60")
ALL_RULES = (*REPLAYS, "lp-calibrated", "lp-point", "trailing-30", "trailing-60", "trailing-7")


@settings(max_examples=200, deadline=None)
@given(
    costs=st.lists(
        st.lists(st.floats(1.0, 1e6, allow_nan=False), min_size=8, max_size=8),
        min_size=1,
        max_size=12,
    )
)
def test_chosen_rule_never_worse_than_an_observable_replay_on_its_record(costs) -> None:
    """Property: on the record used to choose (the last 8 origins), the chosen rule's RMS regret,
    recomputed here from the costs, is at most every replay rule's ("beat the simple rule, or use
    it")."""
    rec = RuleRecord()
    for i, row in enumerate(costs):
        for rule, c in zip(ALL_RULES, row, strict=True):
            rec.add(168 * i, "p", rule, c)
    rule, _ = rec.choose("p", before_h=10**9, last=8, rules=ALL_RULES, default="replay-30")
    assert rule in ALL_RULES
    kept = np.array(costs[-8:])  # origins × rules, in ALL_RULES order
    regret = 100.0 * (kept / kept.min(axis=1, keepdims=True) - 1.0)
    rms = dict(zip(ALL_RULES, np.sqrt((regret**2).mean(axis=0)), strict=True))
    for r in REPLAYS:
        assert rms[rule] <= rms[r] + 1e-6


def test_a_rule_without_a_finite_bill_cannot_be_chosen() -> None:
    # a nan or inf cost is no evidence for its rule: the others are compared on their own bills
    rec = RuleRecord()
    for rule, cost in (("lp-calibrated", math.nan), ("lp-point", 100.0), ("trailing-7", 101.0)):
        rec.add(0, "p", rule, cost)
    rule, rms = rec.choose("p", before_h=1000)
    assert rule == "lp-point" and rms["lp-calibrated"] == math.inf
    assert rms["trailing-7"] == pytest.approx(1.0)


def test_no_record_falls_back_to_the_replay_rule_and_partial_rules_do_not_compete() -> None:
    rec = RuleRecord()
    assert rec.choose("p", 100, rules=ALL_RULES, default="replay-30")[0] == "replay-30"
    # lp-point is cheaper at origin 0 but was not scored at origin 168: it cannot be compared
    rec.add(0, "p", "replay-30", 110.0)
    rec.add(0, "p", "lp-point", 100.0)
    rec.add(168, "p", "replay-30", 100.0)
    assert rec.choose("p", 1000, rules=ALL_RULES, default="replay-7")[0] == "replay-30"
    assert rec.origins("p", 1000) == [0, 168]


def test_term_cap_is_the_billed_span_and_at_least_the_shortest_term() -> None:
    assert term_cap_hours(28 * 24, 7 * 24) == 28 * 24
    assert term_cap_hours(28 * 24, 100 * 24) == 100 * 24
    assert replay_days("replay-30") == 30 and replay_days("lp-point") is None


def test_term_lp_does_not_buy_a_term_longer_than_the_cap() -> None:
    # flat 10 GPUs for 7 days; the 12-month RI (6 vs 10 on demand) mapped to 7 days: the LP buys
    # 10 units; with the cap at 6 days no candidate may be bought, so it buys nothing
    table = cost_table(offers(), (H100,), RI_ONLY)
    slices = hourly_slices(np.full((168, 1), 10.0))
    kw = {"decision_hours": [0], "term_scale": {12: 168}, "horizon_h": 168}
    full = solve_term_lp(table, slices, **kw)
    assert sum(full.buy.values()) == pytest.approx(10.0)
    capped = solve_term_lp(table, slices, max_term_h=6 * 24, **kw)
    assert capped.buy == {}
    # objective: all on demand, 10 GPUs x 168 h x 10 USD
    assert capped.objective_usd == pytest.approx(16_800.0)


def _pol() -> Policy:
    return Policy(
        providers=("aws",),
        purchase_models=("reserved_instance", "ec2_instance_savings_plan"),
        terms_months=(12,),
        payment_options=("no_upfront",),
        savings_curve_points=0,
    ).validate()


def test_without_a_record_the_planner_buys_what_the_replay_rule_buys() -> None:
    """No inner origins: the first decision has no record, so the planner follows replay-30 and
    buys exactly what the replay-30 strategy buys (same empty inventory, same history)."""
    pool = pooled(weekly(22))
    st_ = SequentialSettings(
        every_h=7 * 24, term_scale={12: 7 * 24}, n_scenarios=5, prescore_origins=0
    )
    res = run_sequential(pool, offers(), _pol(), st_)
    first = res.decisions.iloc[0]
    assert first["rule[H100/fixed@us-east-1]"] == "replay-30"
    assert first["evidence_days"] == 0.0 and first["max_term_days"] == 7.0
    replay30_first = res.meta["first_purchases"]["replay-30"]
    assert res.meta["first_purchases"]["planner"] == replay30_first
    assert replay30_first  # the weekly series is worth committing to


def test_inner_origins_give_the_first_decision_a_record_and_the_choice_respects_it() -> None:
    pool = pooled(weekly(28))
    st_ = SequentialSettings(every_h=7 * 24, term_scale={12: 14 * 24}, n_scenarios=5)
    res = run_sequential(pool, offers(), _pol(), st_)
    d = res.decisions
    name = "H100/fixed@us-east-1"
    # inner origin at day 7 (7 days of history) is billed on days 7-14 before decision 1
    assert d.iloc[0]["evidence_days"] == 7.0
    assert d.iloc[0]["max_term_days"] == 14.0  # capped to the shortest term
    assert d.iloc[0]["record"] != ""
    # the invariant on the record used at every decision
    for _, row in d.iterrows():
        assert row[f"rms_regret[{name}]"] <= row[f"best_replay_regret[{name}]"] + 1e-9


def test_rule_order_puts_the_fallback_first_so_ties_keep_the_default() -> None:
    from planner.backtest.sequential import sequential_rules

    rules = sequential_rules(SequentialSettings())
    assert rules[:3] == ("replay-30", "replay-7", "replay-60")
    # three replays that saw the same 7 days buy the same and tie: the default is kept
    rec = RuleRecord()
    for r in rules:
        rec.add(0, "p", r, 100.0 if r.startswith("replay") else 120.0)
    assert rec.choose("p", 1000, rules=rules, default=rules[0])[0] == "replay-30"
    # an unknown fallback leaves the lookbacks in their order
    assert sequential_rules(SequentialSettings(fallback_rule="x"))[0] == "replay-7"


def test_capped_replay_rules_see_only_terms_within_the_cap() -> None:
    from planner.backtest.sequential import _Planner

    off = offers()
    long = off[off["term_months"] == 12].assign(term_months=36)
    both = pd.concat([off, long], ignore_index=True)
    run = _Planner.__new__(_Planner)
    run.offers = both
    run.settings = SequentialSettings(term_scale={12: 168, 36: 504}, cap_replay_rules=True)
    kept = run._replay_offers(168)["term_months"].astype(int)
    assert set(kept) == {0, 12} and (kept == 0).sum() == (off["term_months"] == 0).sum()
    assert len(run._replay_offers(504)) == len(both)
    assert len(run._replay_offers(None)) == len(both)
    run.settings = SequentialSettings(term_scale={12: 168, 36: 504})  # default: not capped
    assert len(run._replay_offers(168)) == len(both)


def test_the_record_charges_an_unexpired_term_at_the_utilisation_it_has_shown() -> None:
    """Two purchases billed over a 7-day span ending at ``now``: an 84-day term used 50 % (spend
    840 USD over its 168 active hours, 5 USD/h) and a 28-day term used 100 %. The first carries
    (1 − 0.5) · 5 USD/h · 77 days · 24 h = 4,620 USD of expected waste for the 77 days still to
    run; the second carries nothing; a purchase that has not started yet is not charged."""
    from planner.backtest.sequential import remainder_charge_usd
    from planner.evaluate import Evaluation
    from planner.inventory import Commitment

    t0 = pd.Timestamp("2026-01-05", tz="UTC")
    now = t0 + pd.Timedelta(days=7)

    def com(cid: str, days: int, start: pd.Timestamp = t0) -> Commitment:
        return compute_sp(cid, 5.0, start, start + pd.Timedelta(days=days))

    bill = Evaluation(
        total_usd=0.0,
        cost_by_component_usd={},
        cost_by_provider_usd={},
        hourly_cost_usd=np.zeros(1),
        on_demand_equivalent_usd=0.0,
        coverage=0.0,
        utilization=0.0,
        esr=0.0,
        waste_usd=0.0,
        commitment_utilization={"long": 0.5, "short": 1.0, "later": 0.0},
        commitment_spend_usd={"long": 840.0, "short": 840.0, "later": 0.0},
    )
    bought = [com("long", 84), com("short", 28), com("later", 84, start=now)]
    assert remainder_charge_usd(bought, bill, now) == pytest.approx(0.5 * 5.0 * 77 * 24)
    assert remainder_charge_usd(bought[1:], bill, now) == 0.0
