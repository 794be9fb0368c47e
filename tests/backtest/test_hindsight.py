"""The hindsight LP: its commitments billed by the evaluator agree with its own objective."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bt_factory import A100_SPOT, H100, offers

from planner.backtest.hindsight import hindsight_optimum, hindsight_policy
from planner.evaluate import evaluate
from planner.policy import Policy

POLICY = Policy(
    terms_months=(12,), payment_options=("no_upfront",), min_utilization=0.9, cvar_limit_pct=1.0
)


def test_hindsight_policy_drops_risk_bounds_and_time_reduction() -> None:
    p = hindsight_policy(POLICY, 7 * 24)
    assert p.min_utilization is None and p.cvar_limit_pct is None and p.risk_aversion == 0
    assert p.integer is False and p.time_reduction == "hourly" and p.ladder_every_months == 0
    assert p.terms_months == POLICY.terms_months and p.spot_cap_share == POLICY.spot_cap_share


def test_a_12_month_ri_is_charged_for_the_window_hours_only() -> None:
    # 50 GPUs for 7 days; a 12-month RI at 6 USD/GPU-h beats on-demand at 10. The LP prorates the
    # term to its 168-hour horizon and the evaluator bills each active hour: both say
    # 50 × 6 × 168 = 50,400 USD.
    start = pd.Timestamp("2026-02-02", tz="UTC")
    u = np.full((168, 1), 50.0)
    hs = hindsight_optimum(u, start, (H100,), offers(), POLICY)
    (c,) = hs.commitments
    assert c.purchase_model == "reserved_instance" and c.quantity == pytest.approx(50)
    assert c.start == start
    ts = pd.date_range(start, periods=168, freq="h")
    bill = evaluate(list(hs.commitments), u, ts, (H100,), offers(), POLICY).total_usd
    assert bill == pytest.approx(50 * 6 * 168)
    assert hs.lp_objective_usd == pytest.approx(bill)


def test_two_pools_with_spot_lp_and_evaluator_agree() -> None:
    rng = np.random.default_rng(1)
    u = np.column_stack([rng.uniform(10, 30, 120), rng.uniform(0, 20, 120)])
    start = pd.Timestamp("2026-02-02", tz="UTC")
    pools = (H100, A100_SPOT)
    hs = hindsight_optimum(u, start, pools, offers(), POLICY)
    ts = pd.date_range(start, periods=len(u), freq="h")
    bill = evaluate(list(hs.commitments), u, ts, pools, offers(), POLICY).total_usd
    assert hs.lp_objective_usd == pytest.approx(bill, rel=1e-6)
