"""The optional busy measure in usage files, its pooling and the busy fraction by hour of day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forecasting import make_pools, read_usage
from forecasting.busy import busy_fraction_by_hour, with_busy_hours
from planner.cli import cli
from planner.policy_file import config_from_dict, config_to_doc
from pricing_data.errors import PlannerInputError

RULES = [{"match": {"workload": "inference", "environment": "dev"}, "scale_to_zero": True}]


def _write(tmp_path: Path, rows: list[str], header: str) -> Path:
    p = tmp_path / "usage.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def _two_days(tmp_path: Path) -> Path:
    """Pool "dev" (8 GPUs held every hour, busy 2 GPU-hours at 09-10 UTC only) and pool "prod"
    (4 GPUs, no busy measure)."""
    rows = []
    for h in pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC"):
        busy = 2.0 if h.hour in (9, 10) else 0.0
        ts = h.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{ts},L4,8,{busy},inference,dev")
        rows.append(f"{ts},L4,4,,inference,prod")
    return _write(tmp_path, rows, "timestamp,gpu_type,gpus,busy_gpu_hours,workload,environment")


def test_busy_column_is_read_pooled_and_turned_into_a_fraction_by_hour(tmp_path: Path) -> None:
    hist = read_usage(_two_days(tmp_path))
    assert hist.data["busy_gpu_hours"].isna().sum() == 48  # the prod rows: not measured
    pooled = make_pools(hist, RULES)
    names = [p.name for p in pooled.pools]
    assert names == ["L4/fixed@us-east-1", "L4/scale-to-zero@us-east-1"]
    assert pooled.pools[1].scale_to_zero and not pooled.pools[0].scale_to_zero
    assert pooled.busy_gpu_hours is not None
    frac = busy_fraction_by_hour(pooled.demand_gpus, pooled.busy_gpu_hours)
    # hand: 2 busy GPU-hours of 8 held at 09 and 10 UTC = 0.25; 0 elsewhere; prod has no measure
    assert set(frac) == {"L4/scale-to-zero@us-east-1"}
    want = np.zeros(24)
    want[[9, 10]] = 0.25
    np.testing.assert_allclose(frac["L4/scale-to-zero@us-east-1"], want)


def test_busy_above_held_is_an_error_naming_the_row(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        ["2026-01-01T00:00:00Z,L4,2,1", "2026-01-01T01:00:00Z,L4,2,3"],
        "timestamp,gpu_type,gpus,busy_gpu_hours",
    )
    with pytest.raises(PlannerInputError) as e:
        read_usage(p)
    assert e.value.row == 3 and e.value.column == "busy_gpu_hours"
    assert "at most gpus" in str(e.value)


@pytest.mark.parametrize("bad", ["lots", "-1", "inf"])
def test_a_bad_busy_or_request_value_names_file_row_column(tmp_path: Path, bad: str) -> None:
    p = _write(
        tmp_path,
        ["2026-01-01T00:00:00Z,L4,2,5", f"2026-01-01T01:00:00Z,L4,2,{bad}"],
        "timestamp,gpu_type,gpus,requests",
    )
    r = CliRunner().invoke(cli, ["usage", str(p)])
    assert r.exit_code == 2, r.output
    assert "row 3" in r.output and "requests" in r.output and "Traceback" not in r.output


def test_requests_become_busy_hours_with_the_policy_seconds_per_request(tmp_path: Path) -> None:
    rows = [
        "2026-01-01T00:00:00Z,L4,2,7200,,chat",  # 7200 req x 0.5 s = 1 GPU-hour
        "2026-01-01T00:00:00Z,A10G,1,,0.25,batch",  # measured busy is kept
        "2026-01-01T01:00:00Z,L4,2,36000,,chat",  # 5 GPU-hours > 2 held: capped at 2
        "2026-01-01T01:00:00Z,A10G,1,100,,other",  # no seconds for 'other' and no default
    ]
    p = _write(tmp_path, rows, "timestamp,gpu_type,gpus,requests,busy_gpu_hours,workload")
    h = with_busy_hours(read_usage(p), {"chat": 0.5})
    busy = h.data.set_index(["timestamp", "gpu_type"])["busy_gpu_hours"]
    t0, t1 = pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-01T01:00Z")
    assert busy[(t0, "L4")] == pytest.approx(1.0)
    assert busy[(t0, "A10G")] == pytest.approx(0.25)
    assert busy[(t1, "L4")] == pytest.approx(2.0)
    assert np.isnan(busy[(t1, "A10G")])
    assert any("capped" in w for w in h.report.warnings)


def test_duplicate_rows_combine_the_measures_too(tmp_path: Path) -> None:
    rows = ["2026-01-01T00:00:00Z,L4,2,10,1", "2026-01-01T00:00:00Z,L4,3,5,0.5"]
    p = _write(tmp_path, rows, "timestamp,gpu_type,gpus,requests,busy_gpu_hours")
    d = read_usage(p, on_duplicate="sum").data
    assert d["gpus"].tolist() == [5.0]
    assert d["requests"].tolist() == [15.0]
    assert d["busy_gpu_hours"].tolist() == [1.5]
    # duplicates that measured nothing stay "not measured", not a measured zero
    rows = ["2026-01-01T00:00:00Z,L4,2,10,", "2026-01-01T00:00:00Z,L4,3,5,"]
    p = _write(tmp_path, rows, "timestamp,gpu_type,gpus,requests,busy_gpu_hours")
    d = read_usage(p, on_duplicate="sum").data
    assert d["requests"].tolist() == [15.0] and d["busy_gpu_hours"].isna().all()


def test_files_without_a_busy_measure_have_none(tmp_path: Path) -> None:
    p = _write(tmp_path, ["2026-01-01T00:00:00Z,L4,2"], "timestamp,gpu_type,gpus")
    pooled = make_pools(read_usage(p))
    assert pooled.busy_gpu_hours is None
    assert busy_fraction_by_hour(pooled.demand_gpus, pooled.busy_gpu_hours) == {}


def test_serverless_policy_section_round_trips_and_rejects_bad_values() -> None:
    doc = {
        "serverless": {
            "providers": ["modal"],
            "hybrid": False,
            "min_warm_gpus": 1,
            "gpu_seconds_per_request": {"default": 0.5},
        },
        "pools": RULES,
    }
    cfg = config_from_dict(doc)
    assert cfg.serverless.providers == ("modal",) and not cfg.serverless.hybrid
    assert cfg.pool_rules[0].scale_to_zero
    again = config_from_dict(config_to_doc(cfg))
    assert again.serverless == cfg.serverless and again.pool_rules == cfg.pool_rules
    with pytest.raises(PlannerInputError, match=r"serverless\.min_warm_gpus"):
        config_from_dict({"serverless": {"min_warm_gpus": -1}})
    with pytest.raises(PlannerInputError, match="lambda"):
        config_from_dict({"serverless": {"providers": ["lambda"]}})
    with pytest.raises(PlannerInputError, match="warm"):
        config_from_dict({"serverless": {"warm": 1}})


def test_billing_exports_keep_working_and_serverless_says_it_cannot_be_evaluated() -> None:
    from planner.policy_file import PlanningConfig
    from planner.serverless import NO_BUSY
    from planner.workflows.serverless import serverless_for

    focus = Path(__file__).parents[1] / "data" / "billing" / "gpu-fixtures" / "focus-1.2-gpu.csv"
    hist = read_usage(focus)
    assert "busy_gpu_hours" not in hist.data.columns
    pooled = make_pools(hist, [{"match": {"gpu_type": "*"}, "scale_to_zero": True}])
    assert pooled.busy_gpu_hours is None
    setup = serverless_for(pooled, PlanningConfig())
    assert setup is not None and setup.options == ()
    assert {reason for _, reason in setup.not_evaluable} == {NO_BUSY}
    assert len(setup.not_evaluable) == len(pooled.pools)


def test_busy_above_held_through_the_cli_is_exit_2_with_row_column_value_and_fix(
    tmp_path: Path,
) -> None:
    p = _write(
        tmp_path,
        ["2026-01-01T00:00:00Z,L4,2,1", "2026-01-01T01:00:00Z,L4,2,3"],
        "timestamp,gpu_type,gpus,busy_gpu_hours",
    )
    r = CliRunner().invoke(cli, ["usage", str(p)])
    assert r.exit_code == 2, r.output
    assert str(p) in r.output and "row 3" in r.output and "busy_gpu_hours" in r.output
    assert "3.0" in r.output and "To fix:" in r.output and "at most gpus (2)" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("bad", ["lots", "-2", "nan"])
def test_a_bad_busy_value_through_the_cli_names_file_row_column_value(
    tmp_path: Path, bad: str
) -> None:
    p = _write(
        tmp_path,
        ["2026-01-01T00:00:00Z,L4,2,1", f"2026-01-01T01:00:00Z,L4,2,{bad}"],
        "timestamp,gpu_type,gpus,busy_gpu_hours",
    )
    r = CliRunner().invoke(cli, ["usage", str(p)])
    assert r.exit_code == 2, r.output
    assert str(p) in r.output and "row 3" in r.output and "busy_gpu_hours" in r.output
    assert bad in r.output and "To fix:" in r.output and "Traceback" not in r.output


def test_requests_in_a_scale_to_zero_pool_without_seconds_per_request_is_exit_2(
    tmp_path: Path,
) -> None:
    """The tool's rows count requests but the policy does not say how long one keeps a GPU busy:
    serverless cannot be judged, so the plan stops with the fix instead of guessing."""
    rows = []
    for h in pd.date_range("2026-01-01", periods=24 * 14, freq="h", tz="UTC"):
        ts = h.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{ts},L4,2,300,assistant,dev")
        rows.append(f"{ts},L4,4,900,inference,prod")
    usage = _write(tmp_path, rows, "timestamp,gpu_type,gpus,requests,workload,environment")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[serverless]\ngpu_seconds_per_request = { inference = 0.5 }\n"
        '[[pools]]\nmatch = { environment = "dev" }\nscale_to_zero = true\n'
    )
    r = CliRunner().invoke(
        cli, ["plan", str(usage), "--policy", str(policy), "--out-dir", str(tmp_path / "out")]
    )
    assert r.exit_code == 2, r.output
    assert str(usage) in r.output and "column 'requests'" in r.output
    assert "assistant" in r.output and "2026-01-01T00:00Z" in r.output and "300" in r.output
    assert 'gpu_seconds_per_request = { "assistant" =' in r.output
    assert "Traceback" not in r.output


def test_billing_uplift_rounds_each_request_up_to_the_increment() -> None:
    from forecasting.busy import billing_uplift

    # hand: hour 1: 1 GPU-hour busy over 1,800 requests = 2 s each, billed 10 s: 5x;
    # hour 2: 0.5 GPU-hour over 100 requests = 18 s each, billed 20 s: 20/18.
    # k = (1,800 x 10 + 100 x 20) / (3,600 x 1.5) = 20,000 / 5,400
    k = billing_uplift(np.array([1.0, 0.5]), np.array([1800.0, 100.0]), 10.0)
    assert k == pytest.approx(20_000 / 5_400)
    # no request counts: each busy hour is one run (0.25 GPU-h = 900 s, a multiple of 10: 1x)
    assert billing_uplift(np.array([0.25]), np.array([np.nan]), 10.0) == pytest.approx(1.0)
    # 1 s increment on 2 s requests: exact; no increment: 1
    assert billing_uplift(np.array([1.0]), np.array([1800.0]), 1.0) == pytest.approx(1.0)
    assert billing_uplift(np.array([1.0]), np.array([1800.0]), 0.0) == 1.0
