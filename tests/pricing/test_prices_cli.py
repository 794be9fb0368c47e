"""`planner prices` through the CLI: listings, the cheapest view and error paths."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from planner.cli import cli


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_h100_csv_lists_every_provider_with_effective_prices() -> None:
    r = run("prices", "--gpu", "H100", "-o", "csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.output))
    p5 = df[(df["sku"] == "p5.48xlarge") & (df["region"] == "us-east-1")]
    od = p5[p5["purchase_model"] == "on_demand"]
    assert od["effective_usd_per_hour"].tolist() == [55.04]
    assert od["usd_per_gpu_hour"].tolist() == [6.88]
    assert "spot" in set(p5["purchase_model"])
    assert (
        p5["purchase_model"] == "reserved_instance"
    ).sum() == 9  # vantage lists no 1-yr standard RI here
    sp = p5[p5["purchase_model"].str.endswith("savings_plan")]
    assert len(sp) > 0 and sp["assumed"].all()
    assert {"coreweave", "lambda"} <= set(df["provider"])
    assert "HGX H100" in set(df.loc[df["provider"] == "coreweave", "sku"])
    assert (df.loc[df["provider"] == "lambda", "gpu_type"] == "H100").all()
    assert df["usd_per_gpu_hour"].notna().all()
    assert (df["gpu_type"] == "H100").all()


def test_filters_combine() -> None:
    r = run(
        "prices",
        "--gpu",
        "A100-80GB",
        "--provider",
        "aws",
        "--region",
        "us-east-1",
        "--purchase-model",
        "reserved_instance",
        "--term",
        "3y",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows and all(x["term_months"] == 36 and x["sku"] == "p4de.24xlarge" for x in rows)


def test_cheapest_marks_assumed_prices() -> None:
    r = run("prices", "--cheapest", "--gpu", "H100")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    contract = next(line for line in lines if "reserved_contract" in line)
    assert "*" in contract
    od = next(line for line in lines if " on_demand " in line)
    assert "*" not in od
    assert "* assumed price" in r.output
    assert "catalogs: aws/aws-ec2-gpu-2025-11-30.csv" in r.output


def test_unknown_names_exit_2_with_suggestions() -> None:
    r = run("prices", "--gpu", "H10")
    assert r.exit_code == 2
    assert (
        r.output
        == "Error: unknown GPU type 'H10'\nTo fix: did you mean 'H100' or 'A10' or 'V100'?\n"
    )
    r = run("prices", "--region", "us-est-1")
    assert r.exit_code == 2 and "did you mean 'us-west-1' or 'us-east-1'" in r.output
    r = run("prices", "--provider", "lamda")
    assert r.exit_code == 2 and "did you mean 'lambda'" in r.output
    assert "Traceback" not in r.output


def test_bad_flags_are_usage_errors() -> None:
    r = run("prices", "--purchase-model", "reserved")
    assert r.exit_code == 2
    r = run("prices", "--term", "forever")
    assert r.exit_code == 2 and "not a duration" in r.output
    r = run("prices", "-o", "xml")
    assert r.exit_code == 2


def test_overlay_flag_and_missing_overlay(tmp_path: Path) -> None:
    f = tmp_path / "o.toml"
    f.write_text("[discounts]\naws = 10\n")
    r = run("prices", "--sku-free", "x")
    assert r.exit_code == 2
    r = run(
        "prices",
        "--gpu",
        "H100",
        "--region",
        "us-east-1",
        "--purchase-model",
        "on_demand",
        "--overlay",
        str(f),
        "-o",
        "csv",
    )
    assert r.exit_code == 0, r.output
    df = pd.read_csv(io.StringIO(r.output))
    assert df.loc[df["sku"] == "p5.48xlarge", "effective_usd_per_hour"].tolist() == [49.536]
    r = run("prices", "--overlay", str(tmp_path / "missing.toml"))
    assert r.exit_code == 2 and "overlay file not found" in r.output
