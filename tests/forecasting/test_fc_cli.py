"""`planner usage` and `planner forecast` through the CLI, including every kind of bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli

DATA = Path(__file__).resolve().parent.parent / "data"
HELIOS = str(DATA / "usage" / "helios-earth" / "usage.csv")
FIX = DATA / "billing" / "gpu-fixtures"


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_usage_shows_pools_outages_and_span() -> None:
    r = run("usage", HELIOS)
    assert r.exit_code == 0, r.output
    assert "format: tidy" in r.stdout
    assert "hours: 744" in r.stdout
    assert "V100/fixed@us-east-1" in r.stdout
    assert "outages:" in r.stdout and "2020-05-09 16:00:00+00:00" in r.stdout
    assert "gaps: none" in r.stdout


def test_usage_shows_how_billing_was_paid_json() -> None:
    r = run("usage", str(FIX / "cur2-gpu.parquet"), "-o", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["format"] == "cur-2.0"
    paid = {(x["gpu_type"], x["paid_as"]): x["gpu_hours"] for x in out["paid_as"]}
    assert paid[("H100", "savings_plan")] == 384.0
    tags = {(x["tag"], x["value"]) for x in out["totals_by_tag"]}
    assert ("team", "llm") in tags and ("workload", "serving") in tags


def test_usage_with_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[pools]]\nmatch = { workload = "training" }\ninterruptible = true\nportable = true\n'
    )
    r = run("usage", str(FIX / "focus-1.2-gpu.csv"), "--policy", str(policy), "-o", "csv")
    assert r.exit_code == 0, r.output
    pools = pd.read_csv(io.StringIO(r.stdout))
    assert set(pools["pool"]) == {"H100/interruptible+portable@us-east-1", "A10G/fixed@us-east-1"}


def test_forecast_end_to_end_with_plot_and_quantiles(tmp_path: Path) -> None:
    out = tmp_path / "fc"
    png, qcsv = out / "demand_fan.png", out / "quantiles.csv"
    r = run(
        "forecast", HELIOS, "--horizon", "2w", "--scenarios", "20", "--seed", "1",
        "--out-dir", str(out),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "mase" in r.stdout and "p50_mean_gpus" in r.stdout
    assert "2020-06" in r.stdout
    assert "simulating 20 paths x 336 h x 1 pools" in r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    q = pd.read_csv(qcsv)
    assert list(q.columns) == ["timestamp", "pool", "p10", "p50", "p90"]
    assert len(q) == 336 and q["timestamp"].iloc[0] == "2020-05-31T16:00:00Z"
    assert not list(tmp_path.glob(".*.tmp"))


def test_forecast_json_is_deterministic() -> None:
    args = (
        "forecast",
        HELIOS,
        "--horizon",
        "3d",
        "--scenarios",
        "10",
        "--model",
        "ets",
        "-o",
        "json",
    )
    a, b = run(*args), run(*args)
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout
    rows = json.loads(a.stdout)
    assert {r["model"] for r in rows} == {"ets"}
    assert all(r["p10_mean_gpus"] <= r["p50_mean_gpus"] <= r["p90_mean_gpus"] for r in rows)


def test_alibaba_end_to_end_six_pools() -> None:
    path = str(DATA / "usage" / "alibaba-spot-gpu-v2026" / "usage.csv")
    r = run(
        "forecast",
        path,
        "--horizon",
        "2d",
        "--scenarios",
        "5",
        "-o",
        "csv",
        "--model",
        "ets",
        "--model",
        "snaive24",
    )
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.stdout))
    assert df["pool"].nunique() == 6
    assert "other:alibaba-GPU-series-1/fixed@us-east-1" in set(df["pool"])


BAD = {
    "nonnum.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\n2025-01-01T01:00:00Z,H100,abc\n",
        "{f}, row 3, column 'gpus': not a number of GPUs (got 'abc')\n"
        "To fix: write the mean GPUs in use that hour as a number, e.g. 12.5",
    ),
    "neg.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\n2025-01-01T01:00:00Z,H100,-2\n",
        "{f}, row 3, column 'gpus': negative number of GPUs (got '-2')\n"
        "To fix: GPUs in use cannot be below 0; correct or drop the row",
    ),
    "badts.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\nyesterday,H100,2\n",
        "{f}, row 3, column 'timestamp': not an ISO 8601 timestamp (got 'yesterday')\n"
        "To fix: write timestamps like 2024-01-01T00:00:00Z",
    ),
    "offhour.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\n2025-01-01T01:30:00Z,H100,2\n",
        "{f}, row 3, column 'timestamp': timestamp is not on the hour (got '2025-01-01T01:30:00Z')\n"
        "To fix: aggregate to hourly means (one row per hour, minutes and seconds 0)",
    ),
    "mixedtz.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\n2025-01-01T01:00:00,H100,2\n",
        "{f}, row 3, column 'timestamp': timestamps mix values with and without a time zone "
        "(got '2025-01-01T01:00:00')\n"
        "To fix: write every timestamp in UTC with a Z suffix, e.g. 2024-01-01T00:00:00Z",
    ),
    "dup.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H100,8\n2025-01-01T01:00:00Z,H100,2\n"
        "2025-01-01T01:00:00Z,H100,3\n",
        "{f}, row 4, column 'timestamp': duplicate hour: rows 3 and 4 are the same series and hour "
        "(got '2025-01-01T01:00:00Z')\n"
        "To fix: keep one row per hour and series, or choose how to combine them "
        "(--on-duplicate sum|mean|last)",
    ),
    "unkgpu.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,H10O,8\n",
        "{f}, row 2, column 'gpu_type': unknown GPU type 'H10O'\n"
        "To fix: did you mean 'H100' or 'A10' or 'V100'?",
    ),
    "ambig.csv": (
        "timestamp,gpu_type,gpus\n2025-01-01T00:00:00Z,A100,8\n",
        "{f}, row 2, column 'gpu_type': GPU type 'A100' is ambiguous\n"
        "To fix: say which one: 'A100-40GB' or 'A100-80GB'",
    ),
    "unkinst.csv": (
        "timestamp,instance_type,gpus\n2025-01-01T00:00:00Z,p5.48xlarg,1\n",
        "{f}, row 2, column 'instance_type': unknown instance type 'p5.48xlarg'\n"
        "To fix: did you mean 'p5.48xlarge' or 'p5.4xlarge' or 'p5en.48xlarge'?",
    ),
    "nogpus.csv": (
        "timestamp,gpu_type\n2025-01-01T00:00:00Z,H100\n",
        "{f}, column 'gpus': missing column 'gpus'\n"
        "To fix: add a 'gpus' column: mean GPUs (or instances, with instance_type) in use per hour",
    ),
    "weird.csv": (
        "a,b\n1,2\n",
        "{f}: cannot tell what kind of usage file this is (got ['a', 'b'])\n"
        "To fix: give a tidy usage file (timestamp, gpu_type or instance_type, gpus), "
        "a FOCUS export or an AWS CUR (legacy or 2.0)",
    ),
}


@pytest.mark.parametrize("command", ["usage", "forecast"])
@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_usage_file(tmp_path: Path, name: str, command: str) -> None:
    content, message = BAD[name]
    f = tmp_path / name
    f.write_text(content)
    r = run(command, str(f))
    assert r.exit_code == 2
    assert r.stderr == "Error: " + message.format(f=f) + "\n"
    assert "Traceback" not in r.output


def test_missing_file() -> None:
    r = run("usage", "nowhere.csv")
    assert r.exit_code == 2
    assert (
        r.stderr
        == "Error: nowhere.csv: usage file not found\nTo fix: check the path to the usage file\n"
    )


def test_billing_without_gpu_rows_cannot_be_forecast() -> None:
    f = str(DATA / "billing" / "aws-cur-legacy-sample" / "sample-anonymous-aws-export-dataset.csv")
    r = run("forecast", f)
    assert r.exit_code == 2
    assert r.stderr == (
        f"Error: {f}: no GPU usage to forecast\n"
        "To fix: check that the file has GPU rows (GPU instance types or gpu_type values)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--horizon", "48mo"],
            "column '--horizon': horizon out of range (got '48mo')\n"
            "To fix: forecast between 1 hour and 36 months ahead",
        ),
        (
            ["--horizon", "soon"],
            "column '--horizon': not a duration (got 'soon')\n"
            "To fix: write e.g. 720h, 14d, 2w, 12mo or 1y",
        ),
        (
            ["--horizon", "12"],
            "column '--horizon': a duration needs a unit (got '12')\n"
            "To fix: write 12mo for months, 12d for days (e.g. 720h, 14d, 2w, 12mo or 1y)",
        ),
        (
            ["--model", "prophet"],
            "column '--model': unknown model 'prophet'\n"
            "To fix: use one of: combo, ets, mstl_arima, smean168, snaive168, snaive24",
        ),
        (
            ["--scenarios", "0"],
            "column 'scenarios': at least one scenario is needed (got 0)\nTo fix: use --scenarios 100",
        ),
        (
            ["--gpu-alias", "H10O"],
            "column '--gpu-alias': not LABEL=TYPE (got 'H10O')\n"
            "To fix: write e.g. --gpu-alias GPU-series-1=other:series-1",
        ),
    ],
)
def test_bad_forecast_options(args: list[str], message: str) -> None:
    r = run("forecast", HELIOS, *args)
    assert r.exit_code == 2
    assert r.stderr == "Error: " + message + "\n"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            '[[pools]]\nmatch = { workloads = "training" }\n',
            "{f}, column 'match': unknown pool rule column 'workloads'\nTo fix: did you mean 'workload'?",
        ),
        (
            '[[pools]]\nmatch = { workload = "training" }\ninteruptible = true\n',
            "{f}: unknown pool rule key 'interuptible'\nTo fix: did you mean 'interruptible' or 'portable'?",
        ),
        (
            "[[pools]\n",
            "{f}: not valid TOML: Expected",
        ),
    ],
)
def test_bad_policy(tmp_path: Path, policy: str, message: str) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(policy)
    r = run("usage", HELIOS, "--policy", str(f))
    assert r.exit_code == 2
    expected = "Error: " + message.format(f=f)
    # tomllib's own wording after "Expected" varies between Python versions
    assert r.stderr == expected + "\n" or r.stderr.startswith(expected + " ")


def test_forecast_with_growth_file(tmp_path: Path) -> None:
    g = tmp_path / "growth.toml"
    g.write_text(
        '[growth]\nannual_pct = 0\n[[growth.steps]]\nat = "2020-06-02T00:00:00Z"\nadd_gpus = 1000\n'
    )
    args = [
        "forecast",
        HELIOS,
        "--horizon",
        "4d",
        "--scenarios",
        "10",
        "--model",
        "ets",
        "-o",
        "json",
    ]
    base = json.loads(run(*args).stdout)
    r = run(*args, "--growth", str(g))
    assert r.exit_code == 0, r.output
    grown = json.loads(r.stdout)
    # June has 88 forecast hours (from 2020-06-01 00:00), 64 of them after the step
    june_base = next(x for x in base if x["month"] == "2020-06")["p50_mean_gpus"]
    june = next(x for x in grown if x["month"] == "2020-06")["p50_mean_gpus"]
    assert june - june_base == pytest.approx(1000 * 64 / 88, rel=1e-6)


def test_growth_file_without_table(tmp_path: Path) -> None:
    g = tmp_path / "growth.toml"
    g.write_text("annual_pct = 30\n")
    r = run("forecast", HELIOS, "--growth", str(g))
    assert r.exit_code == 2
    assert r.stderr == (
        f"Error: {g}: no [growth] table\n"
        "To fix: write [growth] with annual_pct = 30 and/or [[growth.steps]] tables\n"
    )


def test_corrupt_parquet(tmp_path: Path) -> None:
    f = tmp_path / "u.parquet"
    f.write_bytes(b"not parquet at all")
    r = run("usage", str(f))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"Error: {f}: cannot read the Parquet file: ")
    assert r.stderr.endswith("\nTo fix: give a valid Parquet file\n")


def test_usage_warns_about_gaps_and_time_zones(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text(
        "timestamp,gpu_type,gpus\n"
        "2025-01-01T01:00:00+01:00,H100,8\n"
        "2025-01-01T03:00:00+01:00,H100,6\n"
    )
    r = run("usage", str(f))
    assert r.exit_code == 0, r.output
    assert (
        "warning: timestamps with non-UTC offsets were converted to UTC (timestamp)\n" in r.stdout
    )
    assert (
        "warning: 1 hour(s) in 1 gap(s) have no row; they are filled when pools are built "
        "(see gap_fill)\n" in r.stdout
    )
    assert "2025-01-01 01:00:00+00:00  2025-01-01 01:00:00+00:00        1" in r.stdout


def test_philly_end_to_end_with_its_gap_and_outage() -> None:
    path = str(DATA / "usage" / "philly-node-sequence" / "usage.csv")
    r = run("forecast", path, "--horizon", "1w", "--scenarios", "8", "-o", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {x["pool"] for x in rows} == {"other:philly-server/fixed@us-east-1"}
    # the 18-hour outage and the 10 gap hours do not drag the forecast towards 0 servers
    assert all(x["p10_mean_gpus"] > 150 for x in rows)


def test_usage_lists_the_outages_each_pool_leaves_out() -> None:
    """The example's H100 training pool drops to zero for two 14-hour runs. Per GPU type the
    constant 4-GPU staging pool beside it hides them, so the outages listed are the pools' own
    (what the forecaster masks), and the header's outage hours agree with the pools table."""
    root = Path(__file__).resolve().parents[2]
    r = run(
        "usage",
        str(root / "examples" / "usage.csv"),
        "--policy",
        str(root / "examples" / "policy.toml"),
    )
    assert r.exit_code == 0, r.output
    assert "outage_hours: 28" in r.stdout
    runs = [ln for ln in r.stdout.splitlines() if ln.startswith("H100/interruptible+portable")]
    assert (
        sum("2026-09-15 00:00:00+00:00" in ln or "2026-09-22 00:00:00+00:00" in ln for ln in runs)
        == 2
    )
    assert "gpu_hours: 942592.174\n" in r.stdout  # rounded, no float repr tail
