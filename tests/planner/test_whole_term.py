"""Whole-term valuation, the cost of money and bounds on the referee: LPs derived by hand.

Prices are per GPU-hour with 1-GPU units; months are calendar months from 2026-01-01 (2026 has
8,760 h; 2026-01-01 .. 2029-01-01 has 26,304 h, 2028 being a leap year).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from planner_factory import START, YEAR_H, constant_scenarios, offer, offers

from forecasting.scenarios import DemandScenarios, Pool
from planner.optimize import optimize
from planner.policy import Policy
from planner.valuation import build_valuation, discount_by_month, month_starts_h, valuation_for

OD, RI12, RI36 = 10.0, 6.0, 4.0
THREE_YEARS_H = 26304
BASE = Policy(
    horizon_months=12,
    ladder_every_months=0,
    savings_curve_points=0,
    discount_rate_pct=0.0,
    tail_min_volatility_pct=0.0,
)


def bought(plan, term: int) -> float:
    return sum(p.commitment.quantity for p in plan.purchases if p.commitment.term_months == term)


def test_falling_demand_buys_no_long_term_and_beats_on_demand_over_the_term() -> None:
    # Demand falls linearly from 20 to 0 GPUs over 2026 (one certain path); the scenarios end
    # there, so the tail model carries the last week's level (~0.2 GPUs) on, still declining.
    # A 1-year unit at level k is used (20 - k)/20 of the year: worth it while 10 (20-k)/20 > 6,
    # k < 8. A 3-year unit costs 4 * 3 = 12 year-units against the same first-year value (< 10)
    # plus a tail worth at most 10 * 2 * 0.2 = 4 for the lowest unit: never better than 1-year.
    h = np.arange(YEAR_H)
    d = (20.0 * (1 - h / YEAR_H))[None, :, None]
    sc = DemandScenarios(START, (Pool("A10G"),), d, np.array([1.0]), seed=1)
    off = offers(
        offer("on_demand", OD, gpu_type="A10G", sku="g5.xlarge"),
        offer("reserved_instance", RI12, term_months=12, gpu_type="A10G", sku="g5.xlarge"),
        offer("reserved_instance", RI36, term_months=36, gpu_type="A10G", sku="g5.xlarge"),
    )
    for rate in (0.0, 8.0):
        plan = optimize(sc, off, [], replace(BASE, discount_rate_pct=rate))
        assert bought(plan, 36) == 0
        assert 6 <= bought(plan, 12) <= 8
        wt = plan.whole_term
        assert plan.valuation_hours == THREE_YEARS_H
        assert wt["cash_cost_usd"] <= wt["on_demand_cash_usd"]
        assert wt["npv_cost_usd"] <= wt["on_demand_npv_usd"]


def test_flat_demand_known_for_three_years_buys_three_year() -> None:
    # 10 GPUs certain for all 36 months (the scenarios cover the valuation horizon: no tail).
    # 3-year at 4 < 1-year at 6 (which would cover one year only): buy 10 three-year units, and
    # the bill charges their whole term: 10 * 4 * 26,304 h.
    sc = constant_scenarios([10.0], n_hours=THREE_YEARS_H)
    off = offers(
        offer("on_demand", OD),
        offer("reserved_instance", RI12, term_months=12),
        offer("reserved_instance", RI36, term_months=36),
    )
    plan = optimize(sc, off, [], BASE)
    assert bought(plan, 36) == 10 and bought(plan, 12) == 0
    assert plan.expected_cost_usd["commitments"] == pytest.approx(10 * 4 * THREE_YEARS_H)
    assert plan.whole_term["new_obligation_usd"] == pytest.approx(10 * 4 * THREE_YEARS_H)
    assert plan.whole_term["cash_savings_usd"] == pytest.approx(10 * 6 * THREE_YEARS_H)


def test_half_the_scenarios_stop_after_a_year_gives_the_hand_mix() -> None:
    # Ten scenarios, level L = 1..10 GPUs (probability 0.1 each) flat through 2026; in years 2-3
    # the odd levels carry on and the even ones drop to 0. OD 10, 1-year 3.5, 3-year 2.6,
    # undiscounted. Unit k (serving demand >= k) with a = P(L >= k), b = P(L >= k and L odd):
    #   1-year net = 10*8760 a - 3.5*8760;  3-year net = 10*8760 a + 10*17544 b - 2.6*26304.
    #   k=5: a=.6, b=.3: 21,900 vs 36,801.6 -> 3-year;  k=6: a=.5, b=.2: 13,140 vs 10,497.6 ->
    #   1-year;  k=7: a=.4, b=.2: 4,380 vs 1,737.6 -> 1-year;  k=8: both negative -> none.
    # So 5 three-year units (k = 1..5) and 2 one-year units (k = 6, 7).
    levels = np.arange(1.0, 11.0)
    d = np.repeat(levels[:, None], THREE_YEARS_H, axis=1)
    d[1::2, YEAR_H:] = 0.0  # L = 2, 4, ..., 10 stop after 2026
    sc = DemandScenarios(START, (Pool("H100"),), d[:, :, None], np.full(10, 0.1))
    off = offers(
        offer("on_demand", OD),
        offer("reserved_instance", 3.5, term_months=12),
        offer("reserved_instance", 2.6, term_months=36),
    )
    plan = optimize(sc, off, [], BASE)
    assert bought(plan, 36) == 5
    assert bought(plan, 12) == 2


def _crossing_rate_pct() -> float:
    # All-upfront 3.0*8760 paid now vs no-upfront 3.2/h paid monthly: equal when
    # 3.0 * 8760 = 3.2 * sum_m h_m (1 + r)^(-m/12) over the 12 months of 2026 (h_m = 744, 672, ...).
    # The annuity factor must be 12 * 3.0/3.2 = 11.25 months: r* ≈ 15.25 %/yr (bisection below).
    h_m = np.array([744, 672, 744, 720, 744, 720, 744, 744, 720, 744, 720, 744], dtype=float)
    lo, hi = 0.0, 100.0
    for _ in range(80):
        mid = (lo + hi) / 2
        gap = 3.2 * float(h_m @ discount_by_month(12, mid)) - 3.0 * YEAR_H
        lo, hi = (mid, hi) if gap > 0 else (lo, mid)
    return lo


def test_payment_option_flips_where_the_npvs_cross() -> None:
    r_star = _crossing_rate_pct()
    assert r_star == pytest.approx(15.25, abs=0.01)
    off = offers(
        offer("on_demand", OD),
        offer(
            "reserved_instance", 3.0, term_months=12, payment_option="all_upfront", upfront_share=1
        ),
        offer("reserved_instance", 3.2, term_months=12, payment_option="no_upfront"),
    )
    sc = constant_scenarios([1.0])
    chosen = {}
    for rate in (r_star - 1.0, r_star + 1.0):
        plan = optimize(sc, off, [], replace(BASE, discount_rate_pct=rate))
        (p,) = plan.purchases
        chosen[rate] = p.commitment.payment_option
        if p.commitment.payment_option == "all_upfront":  # paid in month 0: NPV = cash
            assert plan.whole_term["npv_cost_usd"] == pytest.approx(3.0 * YEAR_H, rel=1e-6)
    assert chosen == {r_star - 1.0: "all_upfront", r_star + 1.0: "no_upfront"}


def test_tail_widens_and_declines_and_covers_the_valuation_horizon() -> None:
    # 50 noisy scenarios of one year, extended to 36 months: the spread of the monthly levels
    # keeps widening, some paths end below where they started, rows' weights sum to the hours.
    rng = np.random.default_rng(3)
    d = rng.gamma(20.0, 0.5, size=(50, YEAR_H, 1)) * np.linspace(0.8, 1.2, 50)[:, None, None]
    vp = build_valuation(d, START, YEAR_H, THREE_YEARS_H, seed=5, min_volatility_pct=2.0)
    tl = vp.timeline
    assert tl.weight_h.sum() == pytest.approx(THREE_YEARS_H)
    assert tl.month_h.sum() == pytest.approx(THREE_YEARS_H)
    tail = tl.period >= 0
    per_period = {}
    for k in np.unique(tl.period[tail]):
        m = tl.period == k
        per_period[int(k)] = (vp.demand_gpus[:, m, 0] * tl.weight_h[m]).sum(axis=1) / tl.weight_h[
            m
        ].sum()
    ks = sorted(per_period)
    first, last = per_period[ks[0]], per_period[ks[-1]]
    assert np.std(np.log(last)) > np.std(np.log(first))
    assert (last < first).any() and (last > first).any()


def test_valuation_horizon_reaches_the_last_ladder_date_plus_the_longest_term() -> None:
    sc = constant_scenarios([1.0])
    off = offers(offer("on_demand", OD), offer("reserved_instance", RI36, term_months=36))
    pol = replace(BASE, ladder_every_months=3)
    vp = valuation_for(sc.demand_gpus, START, pol, offers=off)
    end = START + pd.DateOffset(months=9 + 36)
    assert vp.timeline.valuation_hours == (end - START) // pd.Timedelta(hours=1)
    assert "tail model" in vp.note


def test_spot_rerun_overhead_from_the_interruption_rate() -> None:
    # λ = 0.25 of instances interrupted a month, checkpoint every 2 h, restart 0.5 h: each
    # interruption loses 2/2 + 0.5 = 1.5 h, so 0.25/730 * 1.5 extra GPU-hours per GPU-hour; the
    # flat overhead adds on top. A pool's spot price is the snapshot times that factor.
    from planner.evaluate.bill import serving_prices

    pol = Policy(spot_checkpoint_interval_h=2.0, spot_restart_h=0.5, spot_overhead_pct=1.0)
    factor = 1.0 + 0.01 + 0.25 / 730 * 1.5
    assert pol.spot_rerun_factor(0.25) == pytest.approx(factor)
    assert pol.spot_rerun_factor(float("nan")) == pytest.approx(1.01)
    spot = offer("spot", 4.0)
    spot["spot_interruption_rate"] = 0.25
    prices = serving_prices(offers(offer("on_demand", OD), spot), (Pool("H100", True),), pol)
    assert prices.spot[0] == pytest.approx(4.0 * factor)


def test_spot_price_spread_has_mean_one_and_is_shared() -> None:
    sc = constant_scenarios(np.ones(400))
    pol = replace(BASE, spot_price_spread_pct=30.0)
    a = valuation_for(sc.demand_gpus, START, pol, seed=3).spot_price_factor
    b = valuation_for(sc.demand_gpus, START, pol, seed=3).spot_price_factor
    assert np.array_equal(a, b)  # seeded: the LP and the referee see the same prices
    assert a.mean() == pytest.approx(1.0, abs=0.05) and a.std() == pytest.approx(0.3, abs=0.06)


def test_month_starts_are_calendar_months_and_read_only() -> None:
    # 2026-01-15 00:00: February starts 31 days later, March 28 more (2026 is not a leap year)
    start = pd.Timestamp("2026-01-15", tz="UTC")
    bounds = month_starts_h(start, 24 * 60)
    assert bounds.tolist() == [0, 31 * 24, 59 * 24, 90 * 24]
    assert month_starts_h(start, 24 * 60) is bounds  # memoised: one calendar walk per pair
    with pytest.raises(ValueError):
        bounds[1] = 0  # shared by every caller, so nobody may change it
