"""Spot availability per pool (issue 11 item 5): the cap comes from the spot offer's interruption
band (an assumption in pricing_data/assumptions.toml), at most the policy's cap, unless a
``[[pools]]`` rule sets the pool's own; the LP and the evaluator apply the same cap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from planner_factory import START, constant_scenarios, offer, offers

from forecasting import make_pools, read_usage
from forecasting.pools import PoolRule
from forecasting.scenarios import Pool
from planner.cli import cli
from planner.evaluate import evaluate
from planner.evaluate.bill import spot_availability
from planner.optimize import optimize
from planner.policy import Policy
from pricing_data.errors import PlannerInputError


def _spot_offers(rate: float) -> pd.DataFrame:
    spot = offer("spot", 4.0)
    spot["spot_interruption_rate"] = rate
    return offers(offer("on_demand", 10.0), spot)


@pytest.mark.parametrize(
    ("rate", "cap"),
    [(0.025, 0.5), (0.075, 0.4), (0.125, 0.3), (0.175, 0.2), (0.25, 0.1), (float("nan"), 0.5)],
)
def test_the_cap_follows_the_interruption_band(rate: float, cap: float) -> None:
    pol = Policy()
    assert pol.spot_cap(None, "aws", rate) == pytest.approx(cap)
    # the policy's cap is a ceiling; a pool's own cap overrides; cap 0 turns spot off
    assert Policy(spot_cap_share=0.15).spot_cap(None, "aws", rate) == pytest.approx(min(0.15, cap))
    assert pol.spot_cap(0.8, "aws", rate) == pytest.approx(0.8)
    assert Policy(spot_cap_share=0.0).spot_cap(0.8, "aws", rate) == 0.0
    # off AWS there is no band: the policy's cap
    assert pol.spot_cap(None, "coreweave", rate) == pytest.approx(0.5)


def test_evaluator_and_lp_serve_the_banded_share_on_spot() -> None:
    # 10 GPUs every hour, interruptible; spot 4 (band ">20%": cap 0.1), on-demand 10. No
    # commitment can be bought (no offers): 1 GPU on spot, 9 on demand every hour.
    # Re-runs: 0.25 interruptions a month x (0.5 h + 0.25 h) / 730 h -> spot 4 x 1.000257.
    off = _spot_offers(0.25)
    pools = (Pool("H100", interruptible=True),)
    n = 744
    ev = evaluate(
        [], np.full((n, 1), 10.0), pd.date_range(START, periods=n, freq="h"), pools, off, Policy()
    )
    factor = 1 + 0.25 * 0.75 / 730
    assert ev.cost_by_component_usd["spot"] == pytest.approx(1.0 * 4.0 * factor * n)
    assert ev.cost_by_component_usd["on_demand"] == pytest.approx(9.0 * 10.0 * n)
    table = spot_availability(off, pools, Policy())
    assert table.loc[0, "spot_cap_share"] == pytest.approx(0.1)
    assert table.loc[0, "interruption_band"] == ">20%"
    assert table.loc[0, "basis"] == "interruption band (assumed)"
    # the LP puts the same share on spot: its expected cost is the evaluator's bill
    sc = constant_scenarios([10.0], pools=pools, n_hours=n)
    pol = Policy(
        horizon_months=1,
        ladder_every_months=0,
        time_reduction="hourly",
        savings_curve_points=0,
        discount_rate_pct=0.0,
        spot_price_spread_pct=0.0,
    )
    plan = optimize(sc, off, [], pol)
    assert not plan.purchases
    lp = plan.record["objective_usd"]
    assert lp == pytest.approx((1.0 * 4.0 * factor + 9.0 * 10.0) * n, rel=1e-9)
    # a pool rule's cap overrides the band
    own = (Pool("H100", interruptible=True, spot_cap_share=0.3),)
    ev = evaluate(
        [], np.full((n, 1), 10.0), pd.date_range(START, periods=n, freq="h"), own, off, Policy()
    )
    assert ev.cost_by_component_usd["spot"] == pytest.approx(3.0 * 4.0 * factor * n)
    assert spot_availability(off, own, Policy()).loc[0, "basis"] == "pool rule"


def test_pool_rules_set_the_cap_least_wins(tmp_path: Path) -> None:
    ts = pd.date_range(START, periods=3, freq="h")
    usage = tmp_path / "u.csv"
    pd.DataFrame(
        {
            "timestamp": np.repeat(ts.strftime("%Y-%m-%dT%H:%M:%SZ"), 2),
            "gpu_type": "H100",
            "gpus": 1.0,
            "workload": ["training", "batch"] * 3,
        }
    ).to_csv(usage, index=False)
    history = read_usage(usage)
    rules = [
        {"match": {"workload": "training"}, "interruptible": True, "spot_cap_share": 0.3},
        {"match": {"workload": "batch"}, "interruptible": True, "spot_cap_share": 0.2},
    ]
    (pool,) = make_pools(history, rules).pools
    assert pool.spot_cap_share == pytest.approx(0.2)  # both rules feed one pool: the lesser cap
    assert pool.name == "H100/interruptible@us-east-1"  # the cap is not part of the name
    (plain,) = make_pools(history, [{"match": {"gpu_type": "H100"}, "interruptible": True}]).pools
    assert plain.spot_cap_share is None


@pytest.mark.parametrize("bad", [1.5, -0.1, "half", True])
def test_a_bad_cap_names_the_file_key_value_and_fix(bad: object) -> None:
    with pytest.raises(PlannerInputError) as err:
        PoolRule.from_dict(
            {"match": {"workload": "training"}, "spot_cap_share": bad}, where="p.toml [[pools]] #1"
        )
    text = str(err.value)
    assert "p.toml [[pools]] #1" in text and "spot_cap_share" in text
    assert repr(bad) in text or str(bad) in text
    assert "To fix" in text


def test_a_bad_cap_in_a_policy_file_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[pools]]\nmatch = { workload = "training" }\ninterruptible = true\nspot_cap_share = 1.5\n'
    )
    r = CliRunner().invoke(cli, ["policy", "show", str(policy)])
    assert r.exit_code == 2
    assert str(policy) in r.output and "spot_cap_share" in r.output and "1.5" in r.output
    assert "Traceback" not in r.output
    policy.write_text(
        '[[pools]]\nmatch = { workload = "training" }\ninterruptible = true\n'
        "spot_cap_share = 0.25\n"
    )
    r = CliRunner().invoke(cli, ["policy", "show", str(policy)])
    assert r.exit_code == 0, r.output
    assert "spot_cap_share = 0.25" in r.output  # shown back as written


def test_provider_share_counts_savings_plan_hours_whatever_the_routing() -> None:
    # A Compute SP serves H100 at 6 USD of commitment per GPU-hour and L40S at 1.5: a dollar buys
    # 4x more L40S hours. In its own provider's share row each GPU-hour counts at rho / min rho
    # (H100: 4, L40S: 1), in the denominator at rho / max rho (H100: 1, L40S: 0.25). With m = 0.8
    # the row's coefficients per (probability x hours) are H100: 4 - 0.8 * 1 = 3.2 and
    # L40S: 1 - 0.8 * 0.25 = 0.8, so routing dollars to H100 cannot lower AWS's count.
    from planner.optimize.problem import build_problem

    off = offers(
        offer("on_demand", 10.0),
        offer("on_demand", 2.0, sku="g6e.xlarge", gpu_type="L40S"),
        offer("compute_savings_plan", 6.0, term_months=12),
        offer("compute_savings_plan", 1.5, term_months=12, sku="g6e.xlarge", gpu_type="L40S"),
    )
    pools = (Pool("H100"), Pool("L40S"))
    sc = constant_scenarios([[4.0, 4.0]], pools=pools, n_hours=744)
    pol = Policy(
        horizon_months=1,
        ladder_every_months=0,
        time_reduction="hourly",
        savings_curve_points=0,
        max_share_per_provider=0.8,
        terms_months=(12,),
    )
    pb = build_problem(sc, off, [], pol)
    row = pb.lp.get_constraint_by_name("share__aws").expr
    (gi, _), _vs = next(iter(pb.serve.items()))
    for p, want in ((0, 3.2), (1, 0.8)):
        var = pb.serve[(gi, p)][(0, 0)]
        assert row[var] == pytest.approx(want * 1.0 * pb.index.slices.weight_h[0])
