"""Serverless in the LP and the evaluator: tiny cases derived by hand.

One scale-to-zero H100 pool holding 2 GPUs every hour of 2026 (8,760 h), on-demand $10/GPU-hour, a
12-month RI at $3.5/GPU-hour, and a serverless offer at $4 per busy GPU-hour (no cold start, so
c = 4) unless said otherwise.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, YEAR_H, constant_scenarios, offer, offers

from forecasting.scenarios import Pool
from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.policy import Policy
from planner.serverless import (
    NO_BUSY,
    ServerlessOption,
    ServerlessSetup,
    breakeven_table,
    serverless_setup,
)
from planner.serverless_policy import ServerlessPolicy
from pricing_data.serverless import load_serverless_catalog

POOL = Pool("H100", scale_to_zero=True)
BASE = Policy(horizon_months=12, ladder_every_months=0, savings_curve_points=0)
OFFERS = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=12))


def option(frac: float | list[float], *, mode: str = "hybrid", warm: float = 0.0, c: float = 4.0):
    f = [frac] * 24 if isinstance(frac, float) else frac
    return ServerlessOption(
        pool=POOL.name,
        gpu_type="H100",
        provider="modal",
        offer_id="modal:any:H100:serverless",
        list_usd_per_gpu_hour=c,
        region_multiplier=1.0,
        cold_start_overhead_pct=0.0,
        busy_fraction_by_hour=tuple(f),
        mode=mode,
        min_warm_gpus=warm,
    )


def one_ri() -> Commitment:
    """One 12-month RI of one GPU (3.5/h) starting with the year."""
    return Commitment(
        commitment_id="ri",
        provider="aws",
        purchase_model="reserved_instance",
        region="us-east-1",
        sku="p5.4xlarge",
        offering_class="standard",
        term_months=12,
        payment_option="no_upfront",
        quantity=1.0,
        hourly_commitment_usd=0.0,
        start=START,
        end=START + pd.DateOffset(months=12),
    )


def plan_for(opt: ServerlessOption, policy: Policy = BASE):  # type: ignore[no-untyped-def]
    sc = constant_scenarios([2.0], pools=(POOL,))
    setup = ServerlessSetup((opt,))
    return optimize(sc, OFFERS, [], policy, serverless=setup), sc


def ris(plan) -> float:  # type: ignore[no-untyped-def]
    return sum(p.commitment.quantity for p in plan.purchases)


def test_an_always_busy_pool_stays_on_commitments() -> None:
    # busy 100%: a held GPU-hour on serverless costs 1.0 x 4 = 4 > 3.5 (RI) -> 2 RIs, nothing moved
    plan, _ = plan_for(option(1.0))
    assert ris(plan) == pytest.approx(2.0)
    assert plan.expected_cost_usd["total"] == pytest.approx(7.0 * YEAR_H, rel=1e-9)
    assert plan.record["serverless"]["lp_expected_held_gpu_hours_moved"][POOL.name] == (
        pytest.approx(0.0, abs=1e-6)
    )


def test_a_pool_busy_5_percent_goes_to_serverless() -> None:
    # busy 5%: 0.05 x 4 = 0.2 per held GPU-hour < 3.5 -> no RI; cost 2 x 0.2 x 8,760
    plan, sc = plan_for(option(0.05))
    assert ris(plan) == 0.0
    assert plan.expected_cost_usd["total"] == pytest.approx(0.4 * YEAR_H, rel=1e-9)
    assert plan.expected_cost_usd["serverless"] == pytest.approx(0.4 * YEAR_H, rel=1e-9)
    assert plan.record["serverless"]["lp_expected_held_gpu_hours_moved"][POOL.name] == (
        pytest.approx(2.0 * YEAR_H, rel=1e-6)
    )
    # the evaluator bills it the same way
    setup = ServerlessSetup((option(0.05),))
    ev = evaluate([], sc.demand_gpus[0], sc.timestamps, sc.pools, OFFERS, BASE, serverless=setup)
    assert ev.total_usd == pytest.approx(0.4 * YEAR_H, rel=1e-9)
    assert ev.cost_by_component_usd["serverless"] == pytest.approx(0.4 * YEAR_H, rel=1e-9)
    assert ev.cost_by_provider_usd["modal"] == pytest.approx(0.4 * YEAR_H, rel=1e-9)
    assert ev.cost_by_pool_usd[POOL.name]["serverless"] == pytest.approx(0.4 * YEAR_H, rel=1e-9)


def test_a_pool_busy_two_hours_a_day_goes_to_serverless_with_duration_curve_slices() -> None:
    # busy at 09 and 10 UTC only (f = 1), idle otherwise: serverless costs 2/24 x 4 = 1/3 per held
    # GPU-hour on average, far below the RI's 3.5 -> 2 x 8,760 / 3. The busy hours share the top
    # block of each month's duration curve (ties in held demand broken by busy time), so the
    # reduced LP prices them exactly.
    f = [0.0] * 24
    f[9] = f[10] = 1.0
    plan, sc = plan_for(option(f))
    assert ris(plan) == 0.0
    assert plan.expected_cost_usd["total"] == pytest.approx(2 * YEAR_H / 3, rel=1e-9)
    setup = ServerlessSetup((option(f),))
    ev = evaluate([], sc.demand_gpus[0], sc.timestamps, sc.pools, OFFERS, BASE, serverless=setup)
    assert ev.total_usd == pytest.approx(2 * YEAR_H / 3, rel=1e-9)


def test_hybrid_bursts_after_commitments_are_billed_by_busy_hours() -> None:
    # one day; 1 RI (1 GPU) held; 2 GPUs every hour; busy 09-10 UTC. The RI covers 1 GPU all day
    # (3.5 x 24 = 84); the other GPU goes serverless: busy hours 2 x 4 = 8, idle hours 0 -> 92.
    f = [0.0] * 24
    f[9] = f[10] = 1.0
    ts = pd.date_range(START, periods=24, freq="h")
    ri = one_ri()
    u = np.full((24, 1), 2.0)
    ev = evaluate([ri], u, ts, (POOL,), OFFERS, BASE, serverless=ServerlessSetup((option(f),)))
    assert ev.total_usd == pytest.approx(92.0)
    assert ev.cost_by_component_usd["serverless"] == pytest.approx(8.0)
    assert ev.cost_by_component_usd["on_demand"] == pytest.approx(0.0)
    # without serverless the second GPU pays on-demand: 84 + 24 x 10 = 324
    assert evaluate([ri], u, ts, (POOL,), OFFERS, BASE).total_usd == pytest.approx(324.0)


def test_all_or_nothing_with_warm_gpus() -> None:
    # mode "all": busy 09-10 bill 2 GPUs x 4 each hour (8); the other 22 hours bill the 0.5 warm
    # GPU at the list price (0.5 x 4 = 2): 2 x 8 + 22 x 2 = 60 for the day
    f = [0.0] * 24
    f[9] = f[10] = 1.0
    ts = pd.date_range(START, periods=24, freq="h")
    setup = ServerlessSetup((option(f, mode="all", warm=0.5),))
    ev = evaluate([], np.full((24, 1), 2.0), ts, (POOL,), OFFERS, BASE, serverless=setup)
    assert ev.total_usd == pytest.approx(60.0)


def test_the_lp_chooses_all_or_nothing_when_hybrid_is_not_allowed() -> None:
    # busy 5%: serverless 0.4/h for the pool, plus warm GPUs at 4/h each. 0.5 warm: 0.4 + 2 = 2.4
    # < 7 (2 RIs) -> all serverless; 2 warm: 0.4 + 8 = 8.4 > 7 -> 2 RIs, serverless off.
    plan, _ = plan_for(option(0.05, mode="choose", warm=0.5))
    assert ris(plan) == 0.0
    assert plan.record["serverless"]["options"][0]["mode"] == "all"
    # the printed cost is the evaluator's bill: max(busy 0.4, warm 0.5 x 4 = 2) = 2 per hour (the
    # LP's 2.4 adds the two, an upper bound it decides with)
    assert plan.expected_cost_usd["total"] == pytest.approx(2.0 * YEAR_H, rel=1e-6)
    plan, _ = plan_for(option(0.05, mode="choose", warm=2.0))
    assert ris(plan) == pytest.approx(2.0)
    assert plan.record["serverless"]["options"][0]["mode"] == "off"


def test_breakeven_busy_fraction_matches_the_hand_figure() -> None:
    # Modal H100 $3.9492 per busy GPU-hour x (1 + 10% cold start) = 4.34412; an RI at 2.0 per
    # GPU-hour breaks even at 2.0 / 4.34412 = 46.04% busy; on-demand at 10 at 100% (capped).
    cat = load_serverless_catalog()
    frac = {POOL.name: np.full(24, 0.2)}
    setup = serverless_setup(
        (POOL, Pool("A10G")), frac, cat, ServerlessPolicy(providers=("modal",))
    )
    (opt,) = setup.options
    assert opt.usd_per_busy_gpu_hour == pytest.approx(3.9492 * 1.1)
    prices = pd.DataFrame({"pool": [POOL.name], "od_usd_per_gpu_hour": [10.0]})
    t = breakeven_table(setup, prices, {POOL.name: 2.0}).set_index("pool")
    assert t.at[POOL.name, "breakeven_busy_pct_vs_commitment"] == pytest.approx(46.04, abs=0.01)
    assert t.at[POOL.name, "breakeven_busy_pct_vs_on_demand"] == 100.0
    assert t.at[POOL.name, "busy_pct_history"] == pytest.approx(20.0)
    # and the LP flips at that fraction: just below it serverless wins, just above the RI does
    off = offers(offer("on_demand", 10.0), offer("reserved_instance", 2.0, term_months=12))
    sc = constant_scenarios([2.0], pools=(POOL,))
    for f, want_ris in ((0.45, 0.0), (0.47, 2.0)):
        o = replace(opt, busy_fraction_by_hour=(f,) * 24)
        plan = optimize(sc, off, [], BASE, serverless=ServerlessSetup((o,)))
        assert ris(plan) == pytest.approx(want_ris), f


def test_eligible_pools_without_a_busy_measure_are_not_evaluated() -> None:
    cat = load_serverless_catalog()
    l4 = Pool("L4", scale_to_zero=True)
    a10g = Pool("A10G", scale_to_zero=True)
    setup = serverless_setup(
        (POOL, l4, a10g), {a10g.name: np.zeros(24)}, cat, ServerlessPolicy(providers=("modal",))
    )
    assert setup.options == ()
    reasons = dict(setup.not_evaluable)
    assert reasons[POOL.name] == NO_BUSY and reasons[l4.name] == NO_BUSY
    assert "no serverless offer for A10G" in reasons[a10g.name]
    # the record round-trips
    assert ServerlessSetup.from_dict(setup.to_dict()) == setup


def test_a_commitment_is_not_spent_on_hours_the_plan_serves_serverless() -> None:
    # pools (tool first, so a tie for the RI would go to it): the scale-to-zero tool holds 2 GPUs,
    # busy 09-10 UTC only; a fixed H100 pool holds 1 GPU. One RI (1 GPU, 3.5/h) can serve either.
    # Idle tool hours cost 0 on serverless (< 3.5) and leave the held path first, so the RI covers
    # the fixed pool in those 22 hours; at 09-10 (serverless 4 > 3.5) the RI covers 1 tool GPU, the
    # other goes serverless (2 x 4 = 8) and the fixed pool pays on-demand (2 x 10 = 20).
    # Total: RI 84 + 8 + 20 = 112 (spending the RI on the idle tool would cost 84 + 8 + 240 = 332).
    f = [0.0] * 24
    f[9] = f[10] = 1.0
    fixed = Pool("H100")
    ts = pd.date_range(START, periods=24, freq="h")
    ri = one_ri()
    u = np.column_stack([np.full(24, 2.0), np.full(24, 1.0)])
    ev = evaluate(
        [ri], u, ts, (POOL, fixed), OFFERS, BASE, serverless=ServerlessSetup((option(f),))
    )
    assert ev.total_usd == pytest.approx(112.0)
    assert ev.cost_by_component_usd["serverless"] == pytest.approx(8.0)
    assert ev.cost_by_component_usd["on_demand"] == pytest.approx(20.0)


def test_coarse_whole_term_rows_bill_the_overall_busy_fraction() -> None:
    """After the decision horizon the valuation timeline has coarse rows (no hour of day): a pool
    on serverless bills f̄ there. Hand: 48 hourly rows with 2 GPUs, busy f = 1 at 09-10 UTC and 0
    otherwise (4 busy GPU-hours a day x c = 4: 16 a day, 32 in all); every coarse row r bills
    D_r x w_r x f̄ x 4 with f̄ = 1/12 (the history's busy over held GPU-hours)."""
    from planner.evaluate.bill import bill, tariff
    from planner.valuation import build_valuation

    f = [0.0] * 24
    f[9] = f[10] = 1.0
    opt = replace(option(f, mode="all"), busy_fraction=1 / 12)
    demand = np.full((1, 48, 1), 2.0)
    vp = build_valuation(demand, START, 48, 48 + 24 * 60, blocks=2, tail_step_months=1, seed=1)
    tl = vp.timeline
    assert tl.n_hourly == 48 and tl.n_rows > 48  # hourly rows, then coarse ones
    tf = tariff([], (POOL,), OFFERS, BASE)
    ev = bill([], vp.demand_gpus[0], tl, tf, serverless=ServerlessSetup((opt,)))
    coarse = vp.demand_gpus[0, 48:, 0] @ tl.weight_h[48:] * (1 / 12) * 4.0
    assert ev.cost_by_component_usd["serverless"] == pytest.approx(32.0 + coarse, rel=1e-9)
    assert ev.total_usd == pytest.approx(32.0 + coarse, rel=1e-9)
    # serverless is usage: its cash falls in the months it accrues and is all of the cash here
    assert ev.cash_by_month["serverless"].sum() == pytest.approx(ev.total_usd, rel=1e-9)
    assert ev.cash_usd == pytest.approx(ev.total_usd, rel=1e-9)
    # the rows' busy fractions: f(hour) on hourly rows, f̄ on coarse rows
    rho = opt.busy_fraction_rows(tl)
    assert rho[9] == 1.0 and rho[8] == 0.0 and np.allclose(rho[48:], 1 / 12)


def test_a_three_year_term_is_weighed_against_serverless_over_its_whole_term() -> None:
    """A 36-month RI at 3.5 against a pool busy 5 % (0.4 per held GPU-hour on serverless): the
    valuation runs 36 months (coarse rows after the 12-month decision horizon); serverless is
    cheaper on every row, so nothing is bought and the plan's cost is the evaluator's serverless
    bill over the whole valuation horizon: 0.05 x 4 x the expected held GPU-hours."""
    three_year = offers(offer("on_demand", 10.0), offer("reserved_instance", 3.5, term_months=36))
    sc = constant_scenarios([2.0], pools=(POOL,))
    opt = replace(option(0.05), busy_fraction=0.05)
    plan = optimize(sc, three_year, [], BASE, serverless=ServerlessSetup((opt,)))
    assert ris(plan) == 0.0
    assert plan.valuation_hours > YEAR_H  # the whole term, not the decision horizon
    exp = plan.expected_cost_usd
    assert exp["total"] == pytest.approx(exp["serverless"], rel=1e-9)
    held_gpu_h = plan.expected_cost_usd["serverless"] / (0.05 * 4.0)
    assert held_gpu_h == pytest.approx(2.0 * plan.valuation_hours, rel=0.25)


def test_the_price_of_safety_bills_both_plans_with_the_runs_serverless_option() -> None:
    # Demand 10 GPUs (probability 0.8) or 5 (0.2) for 48 hours; the pool busy half of every held
    # hour at 4 USD per busy GPU-hour, so a held GPU-hour on serverless costs 0.5 x 4 = 2 USD,
    # below a 12-month RI's 6 and on-demand's 10. With or without the 80 % utilisation bound the LP
    # buys no RI and moves every hour to serverless: both bills are
    # 2 x (0.8 x 10 + 0.2 x 5) x 48 h = 864 USD and the bound costs nothing. (Solved and billed
    # without the option, as before this was fixed, the bound looked binding: a price of 40 USD
    # that is not real.)
    from planner.backtest.safety import price_of_safety

    policy = replace(
        BASE, integer=False, min_utilization=0.8, horizon_months=1, time_reduction="hourly"
    ).validate()
    off = offers(offer("on_demand", 10.0), offer("reserved_instance", 6.0, term_months=12))
    sc = constant_scenarios(
        [10.0, 5.0], pools=(POOL,), n_hours=48, probabilities=np.array([0.8, 0.2])
    )
    setup = ServerlessSetup((option(0.5),))
    plan = optimize(sc, off, [], policy, serverless=setup)
    [row] = price_of_safety(sc, off, [], policy, plan, serverless=setup)
    assert row["bound"] == "min_utilization"
    assert row["cost_with_usd"] == pytest.approx(864.0, rel=1e-6)
    assert row["cost_without_usd"] == pytest.approx(864.0, rel=1e-6)
    assert not row["binding"]
