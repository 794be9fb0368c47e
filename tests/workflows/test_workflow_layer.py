"""The workflow layer: one loader for every command, typed run records, what-ifs that reuse the
forecast, and the stderr progress display."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.commands.progress import Reporter
from planner.policy import Policy
from planner.policy_file import apply_overrides, read_policy_file
from planner.workflows.inputs import forecast_key, load_inputs
from planner.workflows.records import RunRecord, SolveRecord
from planner.workflows.whatif import WhatIf, run_whatifs

POLICY = """[planning]
horizon_months = 1
ladder_every_months = 0
scenarios = 3
seed = 2
[offers]
providers = ["aws"]
terms_months = [12]
payment_options = ["no_upfront"]
[solver]
savings_curve_points = 2
"""


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """Five weeks of hourly H100 usage with a daily cycle, and a one-month AWS-only policy."""
    ts = pd.date_range("2026-09-01", periods=24 * 35, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    gpus = 16 + 6 * np.sin(2 * np.pi * np.asarray(ts.hour) / 24) + rng.normal(0, 1, len(ts))
    usage = tmp_path / "usage.csv"
    pd.DataFrame(
        {
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "gpu_type": "H100",
            "gpus": np.clip(gpus, 0, None).round(3),
            "provider": "aws",
            "region": "us-east-1",
            "team": np.where(np.arange(len(ts)) % 3 == 0, "a", "b"),
        }
    ).to_csv(usage, index=False)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return usage, policy


def test_load_inputs_prices_every_provider_whatever_the_policy(small: tuple[Path, Path]) -> None:
    usage, policy = small
    inputs = load_inputs(usage, read_policy_file(policy))
    assert inputs.config.policy.providers == ("aws",)
    assert {"aws", "coreweave", "lambda"} <= set(inputs.catalog.offers["provider"])
    assert inputs.start == pd.Timestamp("2026-10-06", tz="UTC")
    assert inputs.horizon_hours == 31 * 24  # October
    assert "p5.48xlarge" in inputs.aws_instance_types
    assert len(inputs.recent_demand(7)) == 7 * 24


def test_forecast_key_separates_demand_settings_from_the_rest() -> None:
    base = read_policy_file(None)
    same = ["exclude=lambda", "risk.cvar_limit=5%", "spot.cap_share=0.3", "solver.mip_gap=0.01"]
    for change in same:
        assert forecast_key(apply_overrides(base, [change])) == forecast_key(base), change
    for change in ["growth=+40%", "planning.seed=3", "planning.scenarios=7", "horizon=6mo"]:
        assert forecast_key(apply_overrides(base, [change])) != forecast_key(base), change


def count_fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every model fit of a forecast (one ``fit_pools`` call per forecast made), as the length of
    the history it was fitted on: the plan's forecast uses all of it, the sizing rules' backtest
    forecasts (planner/backtest/sizing.py) the history before each of their origins."""
    import importlib

    fc_module = importlib.import_module("forecasting.forecast")  # the module, not the function
    fits: list[int] = []
    real = fc_module.fit_pools

    def counted(fit, y_fit, *args, **kwargs):  # type: ignore[no-untyped-def]
        fits.append(len(y_fit))
        return real(fit, y_fit, *args, **kwargs)

    monkeypatch.setattr(fc_module, "fit_pools", counted)
    return fits


@pytest.mark.slow
def test_three_non_demand_whatifs_fit_the_forecast_once(
    small: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    usage, policy = small
    inputs = load_inputs(usage, read_policy_file(policy))
    fits = count_fits(monkeypatch)
    said: list[str] = []
    outcome = run_whatifs(
        inputs,
        [
            WhatIf("no lambda", ("exclude=lambda",)),
            WhatIf("tight", ("risk.cvar_limit=5%",)),
            WhatIf("spot", ("spot.cap_share=0.3",)),
        ],
        progress=said.append,
    )
    assert outcome.forecasts_fitted == 1
    assert sum("reusing the forecast" in m for m in said) == 3
    # counted where the models are fitted: the plan's forecast once (on all 35 days of history),
    # and the sizing rules' three backtest forecasts (origins 7, 14 and 21 days before the end)
    # once each, shared by the four re-plans (they were fitted per re-plan: 1 + 4 x 3 = 13)
    n_hours = inputs.pooled.n_hours
    assert fits.count(n_hours) == 1
    assert sorted(f for f in fits if f != n_hours) == [n_hours - d * 24 for d in (21, 14, 7)]
    table = outcome.frame()
    assert list(table["what_if"]) == ["baseline", "no lambda", "tight", "spot"]
    # what-ifs skip the savings curves unless asked for
    assert outcome.baseline.run is not None and outcome.baseline.run.plan.savings_curves == {}
    # a demand change fits a second forecast
    fits.clear()
    more = run_whatifs(inputs, [WhatIf("grow", ("growth=+40%",))], evaluate_only=True)
    assert more.forecasts_fitted == 2
    assert fits.count(n_hours) == 2  # the baseline's and the what-if's, nothing else


@pytest.mark.slow
def test_plan_records_a_typed_run_and_whatif_evaluates_the_saved_plan(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    usage, policy = small
    out = tmp_path / "out"
    r = CliRunner().invoke(
        cli, ["plan", str(usage), "--policy", str(policy), "--out-dir", str(out), "--no-report"]
    )
    assert r.exit_code == 0, r.output
    from planner.workflows.records import read_plan

    plan = read_plan(out / "plan.json")
    record = RunRecord.of(plan)
    assert record.usage_file == str(usage)
    assert record.planning_config().policy.providers == ("aws",)
    assert record.policy_doc["planning"]["seed"] == 2
    solve = SolveRecord.of(plan)
    assert solve.solver in ("highs", "cbc") and solve.status
    r = CliRunner().invoke(
        cli,
        [
            "whatif",
            str(usage),
            "--policy",
            str(policy),
            "--what-if",
            "growth=+50%",
            "--evaluate-only",
            "--plan",
            str(out / "plan.json"),
            "-o",
            "csv",
        ],
    )
    assert r.exit_code == 0, r.output
    table = pd.read_csv(io.StringIO(r.stdout)).set_index("what_if")
    # the saved plan's purchases, not a re-planned baseline's, in both rows (evaluate-only)
    assert list(table["purchases_now"]) == [len(plan.firm)] * 2
    assert (
        table.loc["growth=+50%", "all_on_demand_cash_usd"]
        > table.loc["baseline", "all_on_demand_cash_usd"]
    )


@pytest.mark.slow
def test_a_plan_without_policy_says_which_defaults_it_used(small: tuple[Path, Path]) -> None:
    usage, _ = small
    r = CliRunner().invoke(
        cli,
        [
            "plan",
            str(usage),
            "--scenarios",
            "2",
            "--horizon",
            "1mo",
            "--set",
            "solver.savings_curve_points=0",
            "--out-dir",
            str(usage.parent / "o"),
            "--no-report",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Defaults used (no policy file): risk bound risk.cvar_limit_pct=15" in r.stdout


def test_reporter_plain_lines_when_not_a_terminal() -> None:
    buf = io.StringIO()
    with Reporter(buf) as say:
        say("reading usage")
        say("solving")
        say.note("wrote x")
    assert buf.getvalue() == "reading usage\nsolving\nwrote x\n"


def test_reporter_quiet_prints_only_notes() -> None:
    buf = io.StringIO()
    with Reporter(buf, quiet=True) as say:
        say("solving")
        say.note("warning: w")
    assert buf.getvalue() == "warning: w\n"
    assert say.messages == ["solving"]


def test_reporter_live_line_redraws_in_place() -> None:
    buf = io.StringIO()
    with Reporter(buf, live=True, tick_s=0.01) as say:
        say("forecasting")
        say("solving")
    text = buf.getvalue()
    assert text.count("\r\x1b[K") >= 3  # each step redrawn over the last, then cleared
    assert "solving  (" in text and text.endswith("s\n") and "done in" in text


def test_reporter_verbose_stamps_each_step_on_a_terminal() -> None:
    buf = io.StringIO()
    with Reporter(buf, verbose=True, live=True) as say:
        say("solving")
    assert buf.getvalue().startswith("[") and buf.getvalue().endswith("s] solving\n")
    assert "\r" not in buf.getvalue()


def test_the_model_table_explains_a_mase_above_one() -> None:
    from types import SimpleNamespace

    from planner.report.terminal import model_choice_table

    metrics = pd.DataFrame(
        {
            "pool": ["easy", "long", "hard"],
            "model": ["ets", "combo", "smean168"],
            "mase": [0.8, 1.2, 1.4],
            "rel_mae": [0.7, 0.76, 1.05],
            "backtest_origins": [5, 5, 5],
            "backtest_horizon_h": [672, 672, 672],
        }
    )
    table = model_choice_table(SimpleNamespace(metrics=metrics)).set_index("pool")
    assert table.loc["easy", "why"] == ""
    assert "beats seasonal naive on the same backtest" in table.loc["long", "why"]
    assert "no better than seasonal naive" in table.loc["hard", "why"]
    calm = model_choice_table(SimpleNamespace(metrics=metrics.iloc[:1]))
    assert "why" not in calm.columns


def test_tightening_for_the_forecast_starts_from_where_the_lp_stood() -> None:
    """The LP's scenarios can see less risk than the forecast's (a pool on a one-path sizing rule
    has no spread): the LP held CVaR at 9.9 % under a 15 % limit, so scaling the 15 % limit would
    not bind. ``anchored`` moves each limit to the referee's measure of the LP when that is inside
    the limit, and leaves it where the LP was at or past it."""
    from planner.optimize.referee import anchored
    from planner.policy import Policy

    pol = Policy(cvar_limit_pct=15.0, min_utilization=0.8).validate()
    lp_bounds = [
        {"name": "cvar_unused_pct", "limit": 15.0, "realised": 9.9},
        {"name": "min_utilization", "limit": 0.8, "realised": 0.86},
        {"name": "max_share_per_provider", "limit": 0.8, "realised": 0.5},
    ]
    out = anchored(pol, lp_bounds)
    assert out.cvar_limit_pct == 9.9 and out.min_utilization == 0.86
    assert out.max_share_per_provider == pol.max_share_per_provider
    # an LP at (or past) its limit keeps the limit
    past = [
        {"name": "cvar_unused_pct", "limit": 15.0, "realised": 15.2},
        {"name": "min_utilization", "limit": 0.8, "realised": 0.79},
    ]
    kept = anchored(pol, past)
    assert kept.cvar_limit_pct == 15.0 and kept.min_utilization == 0.8


def test_a_plan_that_cannot_hold_its_bounds_on_the_forecast_falls_back_to_calibrated_sizing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The logic of ``calibrated_fallback`` with the optimizer and the forecast check stubbed: the
    plan sized on every pool's forecast is used when it holds the bounds (noted and recorded);
    when it breaches too, or cannot be solved, the chosen-rules plan stays and the breach is
    noted (the run's bill then reports it breached)."""
    from dataclasses import dataclass, field
    from types import SimpleNamespace
    from typing import Any

    from planner.optimize.solve import InfeasiblePlanError
    from planner.workflows import quarterly

    @dataclass(frozen=True)
    class Stub:
        name: str
        record: dict[str, Any] = field(default_factory=dict)

    held = {"calibrated": True, "calibrated-exact": True}
    outcome: dict[str, Any] = {"solve": "ok"}

    calls: list[str] = []
    policy_now = {"p": Policy(cvar_limit_pct=15)}

    def fake_optimize(_scen: Any, _offers: Any, _inv: Any, policy: Any, **_k: Any) -> Stub:
        calls.append(policy.risk_pricing)
        if outcome["solve"] == "cvar-always":
            raise InfeasiblePlanError("out of reach", binding="cvar_limit")
        if outcome["solve"] == "infeasible":
            raise InfeasiblePlanError("no plan")
        if outcome["solve"] in ("cvar-conservative", "util-conservative") and (
            policy.risk_pricing != "exact"
        ):
            # conservative pricing overstates unused spend past the bound; exact reaches it
            bound = "cvar_limit" if outcome["solve"] == "cvar-conservative" else "min_utilization"
            raise InfeasiblePlanError("out of reach", binding=bound)
        if outcome["solve"] == "share":  # a bound pricing does not touch: no retry
            raise InfeasiblePlanError("out of reach", binding="max_share_per_provider")
        return Stub("calibrated" if policy.risk_pricing != "exact" else "calibrated-exact")

    def fake_bounds(plan: Stub, *_a: Any) -> list[Any]:
        return [SimpleNamespace(held=held.get(plan.name, False))]

    monkeypatch.setattr(quarterly, "optimize", fake_optimize)
    monkeypatch.setattr(quarterly, "forecast_bounds", fake_bounds)
    fc = SimpleNamespace(scenarios=SimpleNamespace(start=pd.Timestamp("2026-01-01", tz="UTC")))

    sized_with: list[list[Policy]] = []  # per run, the fallback's LP policy when it was used

    def run() -> tuple[Any, list[str]]:
        notes: list[str] = []
        proof = quarterly.ForecastBoundProof(
            fc, None, None, [], policy_now["p"], None, lambda p: p, notes, lambda _m: None
        )
        out = proof.calibrated_fallback(Stub("chosen"), "cvar 18 vs 15")
        sized_with.append(proof.fallback_policy)
        return out, notes

    out, notes = run()
    assert out.name == "calibrated" and out.record["sizing_fallback"]
    assert "instead (lp-calibrated for every pool)" in notes[0]
    assert sized_with[-1] == [policy_now["p"]]  # the price of safety is priced on that LP
    # the CVaR bound out of reach under conservative pricing: solved again with exact pricing
    outcome["solve"] = "cvar-conservative"
    out, notes = run()
    assert out.name == "calibrated-exact"
    assert out.record["sizing_fallback"] == "lp-calibrated for every pool, exact risk pricing"
    assert "exact risk pricing" in notes[0]
    assert [p.risk_pricing for p in sized_with[-1]] == ["exact"]
    outcome["solve"] = "util-conservative"  # the minimum-utilisation bound likewise
    out, notes = run()
    assert out.name == "calibrated-exact" and "exact risk pricing" in notes[0]
    outcome["solve"] = "share"
    calls.clear()
    out, notes = run()
    assert out.name == "chosen" and calls == ["conservative"]
    outcome["solve"] = "cvar-conservative"
    # the exact plan breaching too: the chosen-rules plan stays, the breach noted
    held["calibrated-exact"] = False
    out, notes = run()
    assert out.name == "chosen" and "breaches cvar 18 vs 15" in notes[0]
    assert sized_with[-1] == []  # the chosen-rules plan: priced on the sized scenarios
    held["calibrated-exact"] = True
    # a policy already on exact pricing is not retried: the chosen-rules plan stays
    policy_now["p"] = Policy(cvar_limit_pct=15, risk_pricing="exact")
    outcome["solve"] = "cvar-always"
    calls.clear()
    out, notes = run()
    assert out.name == "chosen" and "breaches" in notes[0]
    assert calls == ["exact"]  # solved once, not retried
    policy_now["p"] = Policy(cvar_limit_pct=15)
    outcome["solve"] = "ok"
    held["calibrated"] = False
    out, notes = run()
    assert out.name == "chosen" and "breaches cvar 18 vs 15" in notes[0]
    outcome["solve"] = "infeasible"
    out, notes = run()
    assert out.name == "chosen" and "breaches" in notes[0]
