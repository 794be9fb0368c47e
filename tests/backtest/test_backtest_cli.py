"""``planner backtest``: outputs and error paths through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli

POLICY = """
[planning]
scenarios = 5
[offers]
providers = ["aws"]
terms_months = [12, 36]
payment_options = ["no_upfront"]
[risk]
min_utilization = 0.8
[solver]
savings_curve_points = 0
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("bt")
    t = pd.date_range("2026-03-02", periods=12 * 24, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    gpus = 64 + 16 * np.sin(2 * np.pi * np.arange(len(t)) / 24) + rng.normal(0, 2, len(t))
    usage = d / "usage.csv"
    pd.DataFrame(
        {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "gpu_type": "H100", "gpus": gpus.round(2)}
    ).to_csv(usage, index=False)
    policy = d / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    return usage, policy


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["backtest", *args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # type: ignore[misc]
    return r.exit_code, r.stdout, r.stderr


def test_table_and_plot(files: tuple[Path, Path], tmp_path: Path) -> None:
    usage, policy = files
    png = tmp_path / "regret.png"
    code, out, err = run(
        str(usage), "--policy", str(policy), "--window", "3d", "--origins", "1", "--plot", str(png)
    )
    assert code == 0, err
    assert "1 window(s) of 3 days, 5 scenarios per origin, planning horizon = the window" in out
    for name in ("on-demand", "replay-7", "replay-30", "replay-60", "planner", "hindsight"):
        assert name in out
    assert "window 1/1" in err  # progress on stderr, data on stdout
    assert "window 1/1" not in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_has_summary_windows_and_provenance(files: tuple[Path, Path]) -> None:
    usage, policy = files
    code, out, err = run(
        str(usage), "--policy", str(policy), "--window", "3d", "--origins", "1", "-o", "json"
    )
    assert code == 0, err
    doc = json.loads(out)
    strategies = [s["strategy"] for s in doc["summary"]]
    assert strategies == ["on-demand", "replay-7", "replay-30", "replay-60", "planner", "hindsight"]
    hs = next(s for s in doc["summary"] if s["strategy"] == "hindsight")
    assert hs["mean_regret_pct"] == 0
    for s in doc["summary"]:
        assert s["mean_regret_pct"] >= -1e-4
    assert doc["meta"]["catalog_versions"] and doc["meta"]["scenarios"] == 5
    assert doc["meta"]["policy"]["min_utilization"] == 0.8
    assert any("replay-60 used the 9.0 days" in n for n in doc["meta"]["notes"])
    assert {w["window"] for w in doc["windows"]} == {1}


def test_missing_usage_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nope.csv"))
    assert code == 2
    assert "nope.csv" in err and "Traceback" not in err


def test_bad_window_names_the_flag(files: tuple[Path, Path]) -> None:
    code, _, err = run(str(files[0]), "--window", "two weeks")
    assert code == 2
    assert "--window" in err and "To fix" in err


def test_history_too_short_for_the_window(files: tuple[Path, Path]) -> None:
    usage, policy = files
    code, out, err = run(str(usage), "--policy", str(policy), "--window", "28d")
    assert code == 2 and out == ""
    assert "too short" in err and "usage.csv" in err and "To fix" in err


def test_bad_policy_file_and_plot_path(files: tuple[Path, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmin_utilization = 7\n", encoding="utf-8")
    code, _, err = run(str(files[0]), "--policy", str(bad))
    assert code == 2 and "min_utilization" in err
    bad.write_text('[solver]\ndecomposition = "benders"\n', encoding="utf-8")
    code, _, err = run(str(files[0]), "--policy", str(bad))
    assert code == 2 and "decomposition" in err and "benders" in err and "scenarios" in err
    code, _, err = run(str(files[0]), "--plot", str(tmp_path / "regret.svg"))
    assert code == 2 and "--plot" in err and not (tmp_path / "regret.svg").exists()
    code, _, err = run(str(files[0]), "--origins", "0")
    assert code == 2


def test_window_rest_is_one_window_after_the_first_week_as_csv(files: tuple[Path, Path]) -> None:
    usage, policy = files
    code, out, err = run(
        str(usage), "--policy", str(policy), "--window", "rest", "-o", "csv", "--oracle"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("window,window_start,window_days,history_days,strategy,cost_usd")
    rows = [line.split(",") for line in lines[1:]]
    assert {r[0] for r in rows} == {"1"} and {r[2] for r in rows} == {"5.0"}  # 12 d - 7 d
    assert [r[4] for r in rows][-2:] == ["planner-oracle", "hindsight"]


def test_sequential_mode_table_csv_and_plot(files: tuple[Path, Path], tmp_path: Path) -> None:
    # the first decision is at day 14, so the 12-day usage is extended to 20 days (decisions at
    # days 14 and 17)
    usage, policy = files
    d = tmp_path / "long.csv"
    frame = pd.read_csv(usage)
    t = pd.date_range("2026-03-02", periods=20 * 24, freq="h", tz="UTC")
    gpus = np.resize(frame["gpus"].to_numpy(), t.size)
    pd.DataFrame(
        {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "gpu_type": "H100", "gpus": gpus}
    ).to_csv(d, index=False)
    png = tmp_path / "seq.png"
    code, out, err = run(
        str(d),
        "--policy",
        str(policy),
        "--mode",
        "sequential",
        "--every",
        "3d",
        "--term-scale",
        "1y=3d,3y=6d",
        "--plot",
        str(png),
    )
    assert code == 0, err
    assert "sequential backtest" in out and "12 months -> 3 days" in out
    for name in ("replay-7", "replay-30", "replay-60", "planner", "hindsight"):
        assert name in out
    assert png.stat().st_size > 1000
    code, out, err = run(
        str(d), "--policy", str(policy), "--mode", "sequential", "--every", "3d", "-o", "csv"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("strategy,decisions,regret_pct,mean_regret_pct")
    assert [line.split(",")[0] for line in lines[1:]] == [
        "replay-7",
        "replay-30",
        "replay-60",
        "planner",
        "hindsight",
    ]


def test_sequential_mode_bad_flags_are_usage_errors(files: tuple[Path, Path]) -> None:
    usage, policy = files
    code, _, err = run(str(usage), "--mode", "sequential", "--term-scale", "1y")
    assert code == 2 and "--term-scale" in err and "To fix" in err
    code, _, err = run(str(usage), "--mode", "sequential", "--every", "soon")
    assert code == 2 and "--every" in err
    # 12 days: no decision after the first 14 days
    code, _, err = run(str(usage), "--policy", str(policy), "--mode", "sequential")
    assert code == 2 and "too short" in err and "usage.csv" in err
