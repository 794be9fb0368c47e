"""Error paths of plan, whatif, export and attribute through the CLI: exit codes and messages,
and nothing written when a run fails."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli

ROOT = Path(__file__).parents[2]
USAGE = str(ROOT / "examples" / "usage.csv")
INVENTORY = ROOT / "examples" / "inventory.csv"


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def small_plan(out: Path, *extra: str):  # type: ignore[no-untyped-def]
    """`planner plan` on the example usage with tiny settings (2 scenarios, 1 month)."""
    return run("plan", USAGE, "--scenarios", "2", "--horizon", "1mo", "--out-dir", str(out), *extra)


def test_bad_inventory_row_stops_the_run_before_writing(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    lines = INVENTORY.read_text().splitlines()
    lines[2] = lines[2].replace(",6,", ",six,")
    inv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = run("plan", USAGE, "--inventory", str(inv), "--out-dir", str(out))
    assert r.exit_code == 2
    assert f"Error: {inv}, row 3, column 'quantity': not a number (got 'six')" in r.output
    assert not out.exists()
    assert "Traceback" not in r.output


def test_inventory_sku_unknown_to_the_catalog_suggests(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(INVENTORY.read_text().replace("p4de.24xlarge", "p4de.24xlrge"))
    r = small_plan(tmp_path / "o", "--inventory", str(inv))
    assert r.exit_code == 2
    assert (
        "inventory item 'ri-a100-2025'" in r.output and "did you mean 'p4de.24xlarge'" in r.output
    )


def test_unknown_policy_key_with_did_you_mean(tmp_path: Path) -> None:
    pol = tmp_path / "policy.toml"
    pol.write_text("[risk]\ncvar_limt_pct = 5\n")
    r = run("plan", USAGE, "--policy", str(pol), "--out-dir", str(tmp_path / "o"))
    assert r.exit_code == 2
    assert (
        "unknown policy key in [risk] 'cvar_limt_pct'" in r.output
        and "did you mean 'cvar_limit_pct'" in r.output
    )


def test_contradictory_settings(tmp_path: Path) -> None:
    pol = tmp_path / "policy.toml"
    pol.write_text("[risk]\ncvar_limit_usd = 1000\ncvar_limit_pct = 5\n")
    r = run("plan", USAGE, "--policy", str(pol), "--out-dir", str(tmp_path / "o"))
    assert (
        r.exit_code == 2 and "are both set" in r.output and "keep one of the two limits" in r.output
    )
    r = run(
        "plan",
        USAGE,
        "--set",
        'offers.providers=["coreweave"]',
        "--set",
        'offers.purchase_models=["reserved_instance"]',
        "--out-dir",
        str(tmp_path / "o"),
    )
    assert r.exit_code == 2 and "nothing can be committed" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "missing.csv"], "missing.csv"),
        (
            ["plan", USAGE, "--inventory", "missing-inventory.csv"],
            "missing-inventory.csv: file not found",
        ),
        (
            ["plan", USAGE, "--policy", "missing-policy.toml"],
            "missing-policy.toml: policy file not found",
        ),
        (["export", "missing-plan.json"], "missing-plan.json: plan file not found"),
        (
            ["attribute", USAGE, "--plan", "missing-plan.json"],
            "missing-plan.json: plan file not found",
        ),
        (["whatif", USAGE], "no what-if given"),
        (["whatif", USAGE, "--what-if", "growth"], "an override is key=value"),
        (
            ["whatif", USAGE, "--what-if-file", "nope.toml"],
            "nope.toml: what-if file not found\nTo fix: check the --what-if-file path",
        ),
        (["plan", USAGE, "--horizon", "forever"], "not a duration"),
        (["plan", USAGE, "--horizon", "12"], "a duration needs a unit"),
        (["backtest", USAGE, "--window", "14"], "a duration needs a unit"),
        (["compare-aws", USAGE, "--lookback", "30"], "a duration needs a unit"),
        (["compare-aws", USAGE, "--lookback", "14d"], "Cost Explorer looks back 7, 30 or 60 days"),
        (["forecast", USAGE, "--horizon", "90"], "a duration needs a unit"),
        (["whatif", USAGE, "--set", "horizon=12", "--what-if", "seed=1"], "needs a unit"),
        (["whatif", USAGE, "--plan", "missing-plan.json", "--what-if", "seed=2"], "plan file"),
        (["plan", USAGE, "--set", "exclude=corewave"], "unknown provider 'corewave'"),
    ],
)
def test_missing_files_and_bad_flags_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    r = CliRunner().invoke(cli, [*args, "--out-dir", str(tmp_path)] if args[0] == "plan" else args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_export_rejects_a_file_that_is_not_a_plan(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"purchases": 3}')
    r = run("export", str(bad))
    assert r.exit_code == 2 and "not a plan.json written by `planner plan`" in r.output


def test_whatif_file_errors(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text('[big]\nsets = ["growth=+40%"]\n')
    r = run("whatif", USAGE, "--what-if-file", str(f))
    assert (
        r.exit_code == 2
        and "unknown what-if key 'sets'" in r.output
        and "did you mean 'set'" in r.output
    )


def test_an_inventory_id_shaped_like_a_new_purchase_is_refused(tmp_path: Path) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(INVENTORY.read_text().replace("ri-a100-2025", "P001"))
    r = small_plan(tmp_path / "o", "--inventory", str(inv))
    assert r.exit_code == 2
    assert "inventory commitment_id 'P001' has the form of a new purchase id" in r.output


def test_a_plan_with_nothing_to_buy_still_reports(tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = run(
        "plan",
        USAGE,
        "--scenarios",
        "2",
        "--horizon",
        "1mo",
        "--set",
        "offers.purchase_models=[]",
        "--set",
        "solver.savings_curve_points=0",
        "--out-dir",
        str(out),
    )
    assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file() and (out / "purchases.csv").read_text().startswith(
        "purchase_id,"
    )
    assert "Decision: Buy nothing now" in r.stdout


def test_whatif_leaving_a_provider_the_inventory_holds_commitments_at(tmp_path: Path) -> None:
    # the CoreWeave contract in the inventory keeps billing; only new CoreWeave purchases stop
    r = run(
        "whatif",
        USAGE,
        "--inventory",
        str(INVENTORY),
        "--scenarios",
        "2",
        "--horizon",
        "1mo",
        "--set",
        "solver.savings_curve_points=0",
        "--what-if",
        "exclude=coreweave",
        "--what-if",
        "exclude=coreweave",
        "-o",
        "csv",
    )
    assert r.exit_code == 0, r.output
    # -o csv: one row per case; a repeated what-if gets its own, numbered, name
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["what_if"] for row in rows] == [
        "baseline",
        "exclude=coreweave",
        "exclude=coreweave (2)",
    ]
