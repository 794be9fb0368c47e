"""Unit economics: cost per request, token and training run, derived by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from forecasting import read_usage
from planner.cli import cli
from planner.workflows.attribute import (
    UNUSED,
    attribution_table,
    read_units,
    tag_units,
)
from pricing_data.errors import PlannerInputError

ROOT = Path(__file__).parents[2]


def _shares() -> pd.DataFrame:
    # window GPU-hours: pool P: chat 30, search 10; pool Q: chat 60
    return pd.DataFrame(
        {
            "team": ["chat", "search", "chat"],
            "pool": ["P", "P", "Q"],
            "gpu_hours": [30.0, 10.0, 60.0],
        }
    )


def test_cost_per_request_is_attributed_cost_over_requests_carried_to_the_horizon() -> None:
    costs = {
        "P": {"commitments": 800.0, "on_demand": 200.0},  # E[cost] of pool P: 1,000
        "Q": {"on_demand": 600.0},
        UNUSED: {"commitments": 50.0},
    }
    gpu_h = {"P": 400.0, "Q": 300.0}  # E[GPU-hours over the horizon]
    units = pd.Series({"chat": 9_000.0, "search": 2_000.0})  # requests in the window
    t = attribution_table(_shares(), costs, gpu_h, "team", "requests", units).set_index("team")
    # hand: chat = 3/4 of P + all of Q = 750 + 600 = 1,350 USD; search = 1/4 of P = 250 USD
    assert t.at["chat", "total_usd"] == pytest.approx(1350.0)
    assert t.at["search", "total_usd"] == pytest.approx(250.0)
    # expected GPU-hours: chat = 3/4·400 + 300 = 600 (window 90) -> requests 9,000·600/90 = 60,000
    assert t.at["chat", "expected_gpu_hours"] == pytest.approx(600.0)
    assert t.at["chat", "requests_expected"] == pytest.approx(60_000.0)
    assert t.at["chat", "usd_per_1k_requests"] == pytest.approx(1350.0 / 60.0)
    # search: 100 GPU-h expected of 10 in the window -> 20,000 requests; 250 / 20 per 1k
    assert t.at["search", "usd_per_1k_requests"] == pytest.approx(12.5)
    # unused commitments: their own line, no unit cost; the lines add up to the whole cost
    assert pd.isna(t.at[UNUSED, "usd_per_1k_requests"])
    assert t["total_usd"].sum() == pytest.approx(1650.0)


def test_tokens_are_quoted_per_million_and_a_value_without_units_has_no_unit_cost() -> None:
    costs = {"P": {"on_demand": 1000.0}, "Q": {"on_demand": 600.0}}
    units = pd.Series({"chat": 3e6})
    t = attribution_table(
        _shares(), costs, {"P": 40.0, "Q": 60.0}, "team", "tokens", units
    ).set_index("team")
    # horizon GPU-hours = window GPU-hours here: chat 1,350 USD / 3 M tokens
    assert t.at["chat", "usd_per_1m_tokens"] == pytest.approx(450.0)
    assert pd.isna(t.at["search", "usd_per_1m_tokens"])


def _usage(tmp_path: Path) -> Path:
    rows = ["timestamp,gpu_type,gpus,team,experiment,requests"]
    for h in pd.date_range("2026-01-01", periods=6, freq="h", tz="UTC"):
        ts = h.strftime("%Y-%m-%dT%H:%M:%SZ")
        exp = "run-a" if h.hour < 3 else "run-b"
        rows.append(f"{ts},H100,8,research,{exp},")
        rows.append(f"{ts},L4,1,app,,{100 * (h.hour + 1)}")
    p = tmp_path / "u.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_runs_count_distinct_experiments_and_requests_sum_the_column(tmp_path: Path) -> None:
    h = read_usage(_usage(tmp_path))
    runs = tag_units(h, "team", "runs", 28)
    assert runs.to_dict() == {"research": 2.0}
    by_exp = tag_units(h, "experiment", "runs", 28)
    assert by_exp["run-a"] == 1.0 and by_exp["run-b"] == 1.0
    req = tag_units(h, "team", "requests", 28)
    assert req["app"] == pytest.approx(2100.0)  # 100 + 200 + ... + 600
    with pytest.raises(PlannerInputError, match="tokens"):
        tag_units(h, "team", "tokens", 28)


def test_a_units_file_keyed_by_hour_and_tag(tmp_path: Path) -> None:
    u = tmp_path / "units.csv"
    u.write_text(
        "timestamp,team,tokens\n2026-01-01T01:00:00Z,app,1000\n2026-01-01T02:00:00Z,app,\n"
        "2025-01-01T00:00:00Z,app,99\n"
    )
    units = read_units(u, "team", "tokens")
    h = read_usage(_usage(tmp_path))
    # the 2025 row is outside the window; the empty cell counts 0
    assert tag_units(h, "team", "tokens", 28, units).to_dict() == {"app": 1000.0}
    u.write_text("timestamp,tokens\n2026-01-01T01:00:00Z,1\n")
    with pytest.raises(PlannerInputError, match="missing column 'team'"):
        read_units(u, "team", "tokens")


def test_cli_units_without_per_is_a_usage_error(tmp_path: Path) -> None:
    u = tmp_path / "units.csv"
    u.write_text("timestamp,team,requests\n")
    r = CliRunner().invoke(
        cli,
        ["attribute", str(ROOT / "examples" / "usage.csv"), "--plan", "p.json", "--units", str(u)],
    )
    assert r.exit_code == 2
    assert "--units and --trend need --per" in r.output


def test_unit_cost_trend_bills_each_month_of_history(tmp_path: Path) -> None:
    from forecasting.scenarios import Pool
    from planner.evaluate.bill import serving_prices
    from planner.policy_file import PlanningConfig
    from planner.workflows.attribute import unit_cost_trend
    from pricing_data.catalog import load_catalog

    # two months of one L4 GPU for team "app", 100 requests an hour; no commitments, so each
    # month costs its hours x the L4 on-demand price, and the unit cost is that / requests
    rows = ["timestamp,gpu_type,gpus,team,requests"]
    hours = pd.date_range("2026-01-31T22:00Z", periods=4, freq="h")
    for h in hours:
        rows.append(f"{h.strftime('%Y-%m-%dT%H:%M:%SZ')},L4,1,app,100")
    p = tmp_path / "u.csv"
    p.write_text("\n".join(rows) + "\n")
    offers = load_catalog().offers
    cfg = PlanningConfig()
    od = float(serving_prices(offers, (Pool("L4"),), cfg.policy).od[0])
    t = unit_cost_trend(read_usage(p), cfg, [], offers, by="team", per="requests")
    assert t["month"].tolist() == ["2026-01", "2026-02"]
    assert t["cost_usd"].tolist() == [pytest.approx(2 * od, abs=0.01)] * 2
    assert t["usd_per_1k_requests"].tolist() == [pytest.approx(2 * od / 0.2, rel=1e-3)] * 2
