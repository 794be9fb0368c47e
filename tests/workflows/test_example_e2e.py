"""End to end on the example organisation: `planner plan` against golden outputs, the report in
headless Chromium, and `export`, `attribute` and `whatif` on the saved plan.

The run uses small settings so the suite stays fast (8 scenarios, 6-month horizon, 3 savings-curve
points); the golden files were written by this same command and are compared with a tolerance.
Regenerate them after an intended change with:

    PLANNER_UPDATE_GOLDEN=1 pytest tests/workflows/test_example_e2e.py
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.plan import PURCHASE_COLUMNS, Plan

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"
RUN_ARGS = [
    "plan",
    str(EXAMPLES / "usage.csv"),
    "--inventory",
    str(EXAMPLES / "inventory.csv"),
    "--policy",
    str(EXAMPLES / "policy.toml"),
    "--scenarios",
    "8",
    "--horizon",
    "6mo",
    "--set",
    "solver.savings_curve_points=3",
]
UPDATE = os.environ.get("PLANNER_UPDATE_GOLDEN") == "1"
# what the run drew on the utilisation chart: the arguments of charts.utilisation_distribution
UTILISATION_CHART: dict[str, Any] = {}


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from planner.report import charts

    out = tmp_path_factory.mktemp("example-plan")
    draw = charts.utilisation_distribution

    def recording(per: Any, **stats: Any) -> bytes:
        UTILISATION_CHART.update(per=per, **stats)
        return draw(per, **stats)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(charts, "utilisation_distribution", recording)
        result = CliRunner().invoke(cli, [*RUN_ARGS, "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.stdout


def test_plan_writes_every_output(example_run: tuple[Path, str]) -> None:
    out, stdout = example_run
    for name in (
        "purchases.csv",
        "plan.json",
        "comparison.csv",
        "report.html",
        "demand_fan.png",
        "utilization.png",
        "savings_curves.png",
        "cost_by_provider.png",
    ):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.tmp"))  # nothing half-written left behind
    purchases = pd.read_csv(out / "purchases.csv")
    assert list(purchases.columns) == list(PURCHASE_COLUMNS)
    plan = Plan.from_json((out / "plan.json").read_text())
    assert plan.record["status"] == "optimal"
    assert plan.record["catalog_versions"]
    assert plan.record["run"]["config"]["seed"] == 7
    # every risk bound of the policy is held on the referee's bill of the final purchases
    assert plan.bounds and all(b["held"] for b in plan.bounds), plan.bounds
    assert "Decision: Buy these" in stdout and "upfront" in stdout
    assert "ri-a100-2025" in stdout  # expiring inventory is highlighted
    # the summary fits 100 columns (the last line names the output folder, as long as it is)
    assert max(len(line) for line in stdout.splitlines() if str(out) not in line) <= 100
    assert (out / "cashflow.csv").is_file()


def test_plan_matches_golden_outputs(example_run: tuple[Path, str]) -> None:
    out, _ = example_run
    purchases = pd.read_csv(out / "purchases.csv")
    comparison = pd.read_csv(out / "comparison.csv")
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        shutil.copy(out / "purchases.csv", GOLDEN / "example_purchases.csv")
        shutil.copy(out / "comparison.csv", GOLDEN / "example_comparison.csv")
    want_p = pd.read_csv(GOLDEN / "example_purchases.csv")
    want_c = pd.read_csv(GOLDEN / "example_comparison.csv")
    key = [
        "provider",
        "purchase_model",
        "region",
        "sku",
        "term_months",
        "payment_option",
        "start_date",
    ]
    # the firm purchases (bought now) must be the same ones, in the same amounts within a tolerance
    first = purchases["start_date"].min()
    assert first == want_p["start_date"].min()
    got_f = purchases[purchases["start_date"] == first]
    want_f = want_p[want_p["start_date"] == first]
    assert sorted(map(tuple, got_f[key].astype(str).values.tolist())) == sorted(
        map(tuple, want_f[key].astype(str).values.tolist())
    )
    merged = got_f.merge(want_f, on=key, suffixes=("", "_want"))
    for col in ("quantity", "hourly_commitment_usd", "upfront_usd", "expected_savings_usd"):
        got, want = merged[col].fillna(0).to_numpy(), merged[f"{col}_want"].fillna(0).to_numpy()
        # each amount within 5%, or within 2% of the column's total for small amounts
        tol = max(1.0, 0.02 * float(abs(want).sum()))
        assert got == pytest.approx(want, rel=0.05, abs=tol), col
    # the tentative ladder may shuffle small top-ups between near-equal options: compare its cash
    assert purchases["upfront_usd"].sum() == pytest.approx(want_p["upfront_usd"].sum(), rel=0.05)
    assert list(comparison["strategy"]) == list(want_c["strategy"])
    for col in ("cash_cost_usd", "npv_cost_usd", "accrual_cost_usd"):
        assert comparison[col].to_numpy() == pytest.approx(want_c[col].to_numpy(), rel=0.01), col
    # the plan must beat keeping only the current inventory, which beats all on-demand
    costs = dict(zip(comparison["strategy"], comparison["cash_cost_usd"], strict=True))
    assert costs["this plan"] < costs["current inventory only"] < costs["all on-demand"]


def test_utilisation_chart_draws_purchases_csv_figures(example_run: tuple[Path, str]) -> None:
    """The utilisation chart and purchases.csv are the same numbers: for every purchase, the
    chart's mean (diamond) and lower whisker are the file's expected and P10 utilisation, and its
    dots are one per scenario of the purchases' valuation (the same scenarios)."""
    out, _ = example_run
    rows = pd.read_csv(out / "purchases.csv").set_index("purchase_id")
    plan = Plan.from_json((out / "plan.json").read_text())
    per, mean, low = (UTILISATION_CHART[k] for k in ("per", "mean", "low"))
    assert list(per) == list(rows.index)  # every purchase drawn, in the file's order
    n_paths = plan.record["purchase_valuation"]["paths"]
    for pid, row in rows.iterrows():
        dots = per[pid]
        assert len(dots) == n_paths, pid
        # the file rounds to 2 decimals
        assert mean[pid] == pytest.approx(row["expected_utilization_pct"], abs=0.006), pid
        assert low[pid] == pytest.approx(row["p10_utilization_pct"], abs=0.006), pid
        # and they are statistics of the dots drawn: within their range
        for stat in (mean[pid], low[pid]):
            assert min(dots) - 1e-9 <= stat <= max(dots) + 1e-9, pid


def test_export_round_trips_the_purchases(example_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = example_run
    r = CliRunner().invoke(cli, ["export", str(out / "plan.json")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(io.StringIO(r.output)).equals(pd.read_csv(out / "purchases.csv"))
    r = CliRunner().invoke(
        cli,
        [
            "export",
            str(out / "plan.json"),
            "--firm-only",
            "--out",
            str(tmp_path / "p.csv"),
            "--json",
            str(tmp_path / "p.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    firm = pd.read_csv(tmp_path / "p.csv")
    assert 0 < len(firm) < len(pd.read_csv(out / "purchases.csv"))
    assert (firm["start_date"] == firm["start_date"].min()).all()
    assert (tmp_path / "p.json").read_text().startswith("[")


def test_attribute_splits_the_expected_cost_by_team(
    example_run: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = example_run
    csv = tmp_path / "showback.csv"
    r = CliRunner().invoke(
        cli,
        [
            "attribute",
            str(EXAMPLES / "usage.csv"),
            "--plan",
            str(out / "plan.json"),
            "--by",
            "team",
            "--out",
            str(csv),
        ],
    )
    assert r.exit_code == 0, r.output
    table = pd.read_csv(csv)
    assert set(table["team"]) >= {"research", "llm-platform", "search", "ads", "(unallocated)"}
    comparison = pd.read_csv(out / "comparison.csv").set_index("strategy")
    # the lines add up to the plan's expected cost (the evaluator's, over the same scenarios)
    assert table["total_usd"].sum() == pytest.approx(
        comparison.loc["this plan", "accrual_cost_usd"], rel=1e-4
    )
    assert table["share_pct"].sum() == pytest.approx(100, abs=0.05)
    # the untagged 5% of A100 usage shows up as its own line, not hidden in a team
    unallocated = table.set_index("team").loc["(unallocated)"]
    assert 0 < unallocated["share_pct"] < 5
    r = CliRunner().invoke(
        cli,
        [
            "attribute",
            str(EXAMPLES / "usage.csv"),
            "--plan",
            str(out / "plan.json"),
            "--by",
            "teem",
        ],
    )
    assert (
        r.exit_code == 2
        and "unknown tag column 'teem'" in r.output
        and "did you mean 'team'" in r.output
    )


def test_attribute_warns_when_the_usage_is_not_the_plans(
    example_run: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = example_run
    other = tmp_path / "usage.csv"
    other.write_bytes((EXAMPLES / "usage.csv").read_bytes())
    r = CliRunner().invoke(
        cli, ["attribute", str(other), "--plan", str(out / "plan.json"), "-o", "csv"]
    )
    assert r.exit_code == 0, r.output
    assert f"warning: {out / 'plan.json'} was planned from" in r.stderr
    assert "warning" not in r.stdout


def test_whatif_evaluate_only_keeps_purchases_and_shows_the_change(tmp_path: Path) -> None:
    args = [
        "whatif",
        str(EXAMPLES / "usage.csv"),
        "--inventory",
        str(EXAMPLES / "inventory.csv"),
        "--policy",
        str(EXAMPLES / "policy.toml"),
        "--scenarios",
        "4",
        "--horizon",
        "3mo",
        "--set",
        "solver.savings_curve_points=0",
        "--what-if",
        "growth=+80%",
        "--evaluate-only",
        "-o",
        "csv",
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(io.StringIO(r.stdout)).set_index("figure")
    assert list(table.columns) == ["baseline", "growth=+80%"]
    base, more = table["baseline"], table["growth=+80%"]
    # more demand on the same purchases: higher on-demand bill, higher cost, no lower utilisation
    assert more["all on-demand (USD)"] > base["all on-demand (USD)"]
    assert more["expected cost (USD)"] > base["expected cost (USD)"]
    assert more["utilisation %"] >= base["utilisation %"] - 0.5


CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it in CI)"
)
def test_report_renders_in_headless_chromium(example_run: tuple[Path, str], tmp_path: Path) -> None:
    """The first screen of report.html, as a reader opens it, saved as out/report-first-screen.png
    (the decision headline must be on it: it is the first section, above the fold)."""
    out, _ = example_run
    shot = ROOT / "out" / "report-first-screen.png"
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,900",
            f"--screenshot={shot}",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000  # a real page, not a blank one
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    body = html[html.index("<body>") :]
    # the decision is the first thing on the page, before any table of figures or chart
    assert body.index("The decision") < body.index("<table")
    assert body.index("The decision") < body.index("<img")


def _visible_text(html: str) -> str:
    import html as html_lib
    import re

    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def test_report_headline_numbers_are_plan_json(example_run: tuple[Path, str]) -> None:
    """The decision's words and numbers on the report's first screen are plan.json's figures."""
    out, _ = example_run
    h = Plan.from_json((out / "plan.json").read_text()).headline
    html = (out / "report.html").read_text()
    decision = _visible_text(html[html.index("The decision") : html.index("Buy now (firm)")])
    n = h["firm_purchases"]
    assert n > 0
    for want in (
        f"Buy these {n} commitments now: ${h['upfront_usd']:,.0f} upfront and "
        f"${h['recurring_monthly_usd']:,.0f} a month",
        f"obligation ${h['term_obligation_usd']:,.0f}",
        f"${h['npv_cost_usd']:,.0f} in today's money",
        f"${h['savings_vs_on_demand_usd']:,.0f} (${h['savings_vs_on_demand_npv_usd']:,.0f} NPV) "
        "against all on-demand",
        f"${h['savings_vs_inventory_usd']:,.0f} (${h['savings_vs_inventory_npv_usd']:,.0f} NPV) "
        "against keeping only the current inventory",
        f"utilisation {100 * h['tail_utilization']:.1f}%",
        f"CVaR of unused commitment spend ${h['cvar_unused_usd']:,.0f}",
        "rest on assumed prices",
    ):
        assert want in " ".join(decision.split()), want
    # the headline is the firm purchases: its cash figures are purchases.csv's firm rows summed
    rows = pd.read_csv(out / "purchases.csv")
    firm = rows[rows["decision"] == "now"]
    assert len(firm) == n
    assert firm["upfront_usd"].sum() == pytest.approx(h["upfront_usd"], abs=0.01 * n)
    # the headline's obligation is the evaluator's schedule (calendar hours); purchases.csv's
    # contract figure counts 730-hour months: the same within 0.5 %
    assert firm["term_obligation_usd"].sum() == pytest.approx(h["term_obligation_usd"], rel=0.005)
    # the saving vs on-demand is the evaluator's firm-only strategy (comparison.csv), in cash and
    # NPV over the whole term
    comp = pd.read_csv(out / "comparison.csv").set_index("strategy")
    od, firm_only = comp.loc["all on-demand"], comp.loc["this plan, firm purchases only"]
    assert od["cash_cost_usd"] - firm_only["cash_cost_usd"] == pytest.approx(
        h["savings_vs_on_demand_usd"], abs=0.02
    )
    assert od["npv_cost_usd"] - firm_only["npv_cost_usd"] == pytest.approx(
        h["savings_vs_on_demand_npv_usd"], abs=0.02
    )
    # no Python reprs or snake_case headers anywhere a person reads
    text = _visible_text(html)
    for bad in ("{'", "None", "nan", "e-05", "expected_savings_usd", "purchase_model"):
        assert bad not in text, bad


def test_purchases_rebill_independently_from_the_catalog(example_run: tuple[Path, str]) -> None:
    """Each row's term obligation re-billed from the catalog's own prices (upfront + recurring
    over the whole term), and the rows summed against plan.json's full-term figures, within
    0.5 %."""
    from pricing_data.catalog import load_catalog
    from pricing_data.schema import HOURS_PER_MONTH

    out, _ = example_run
    rows = pd.read_csv(out / "purchases.csv")
    offers = load_catalog().offers
    for r in rows.itertuples():
        hours = r.term_months * HOURS_PER_MONTH
        if r.purchase_model.endswith("savings_plan"):
            want = r.hourly_commitment_usd * hours  # a Savings Plan commits its $/h every hour
        else:
            o = offers[
                (offers["provider"] == r.provider)
                & (offers["purchase_model"] == r.purchase_model)
                & (offers["sku"] == r.sku)
                & (offers["region"] == r.region)
                & (offers["term_months"] == r.term_months)
                & (offers["payment_option"] == r.payment_option)
            ]
            if r.purchase_model == "reserved_instance":
                o = o[o["offering_class"] == r.offering_class]
            price = o.iloc[0]
            want = r.quantity * (price["upfront_usd"] + price["recurring_usd_per_hour"] * hours)
        assert r.term_obligation_usd == pytest.approx(want, rel=0.005), r.purchase_id
        assert r.upfront_usd + r.recurring_monthly_usd * r.term_months == pytest.approx(
            r.term_obligation_usd, rel=0.005
        )
        unit = "" if pd.isna(r.quantity_unit) else r.quantity_unit
        assert unit == ("" if r.purchase_model.endswith("savings_plan") else unit)
        assert unit in ("instances", "gpus", "")
        assert r.price_basis in ("published", "assumed", "overlay")
    h = Plan.from_json((out / "plan.json").read_text()).headline
    firm = rows[rows["decision"] == "now"]
    ladder = rows[rows["decision"] == "ladder"]
    assert firm["term_obligation_usd"].sum() == pytest.approx(h["term_obligation_usd"], rel=0.005)
    assert ladder["term_obligation_usd"].sum() == pytest.approx(
        h["ladder_term_obligation_usd"], rel=0.005
    )
    cash = pd.read_csv(out / "cashflow.csv")
    paid = cash[["firm_upfront_usd", "firm_recurring_usd"]].to_numpy().sum()
    # one schedule: cashflow.csv's sums are the headline's and plan.json's whole-term figures
    n = len(cash)
    assert paid == pytest.approx(h["term_obligation_usd"], abs=0.01 * n)
    wt = Plan.from_json((out / "plan.json").read_text()).whole_term
    assert cash["total_usd"].sum() == pytest.approx(wt["cash_cost_usd"], abs=0.01 * n)
    assert cash["total_npv_usd"].sum() == pytest.approx(wt["npv_cost_usd"], abs=0.01 * n)
    assert cash["new_commitments_usd"].sum() == pytest.approx(
        wt["new_obligation_usd"], abs=0.01 * n
    )


# Python's own spellings of a value, which no person should read: a dict or list repr, None,
# NaN/NaT/inf, <NA>, numpy or pandas reprs, and scientific notation (7.53e-05)
REPRS = re.compile(  # case matters: "none" is a payment option's word, "None" is Python's
    r"\{'|\['|\bNone\b|\b(nan|NaN|NAN|NaT|inf|Infinity)\b|<NA>|np\.float|numpy\.|Timestamp\("
    r"|dtype|\b\d+(\.\d+)?[eE][-+]?\d+\b"
)


def assert_no_reprs(text: str, where: str) -> None:
    found = [m.group(0) for m in REPRS.finditer(text)]
    bad = [line for line in text.splitlines() if REPRS.search(line)]
    assert not found, f"{where}: {found[:5]} in {bad[:3]}"


def test_the_repr_scanner_finds_what_it_is_for() -> None:
    for text in ("{'variables': 3}", "None", "cost nan", "NaN", "7.53e-05", "1e6", "<NA>", "-inf"):
        with pytest.raises(AssertionError):
            assert_no_reprs(text, "sample")
    assert_no_reprs("36m none; Nonetheless: infra, 1,234.50, P10 (5.3%), e.g. 2026-12-01", "ok")


def test_no_python_reprs_in_what_people_read(example_run: tuple[Path, str], tmp_path: Path) -> None:
    """report.html and the stdout of plan, export, attribute, whatif and compare-aws on a real
    run of the example hold no Python repr; plan's summary fits 100 columns."""
    out, plan_stdout = example_run
    assert_no_reprs(_visible_text((out / "report.html").read_text()), "report.html")
    assert_no_reprs(plan_stdout, "plan")
    assert max(len(line) for line in plan_stdout.splitlines() if str(out) not in line) <= 100
    plan_json = str(out / "plan.json")
    small = ["--scenarios", "4", "--horizon", "3mo", "--set", "solver.savings_curve_points=0"]
    inputs = [str(EXAMPLES / "usage.csv"), "--policy", str(EXAMPLES / "policy.toml")]
    runs = {
        "export table": ["export", plan_json, "-o", "table"],
        "export csv": ["export", plan_json],
        "attribute": [
            "attribute",
            str(EXAMPLES / "usage.csv"),
            "--plan",
            plan_json,
            "--by",
            "team",
        ],
        "whatif": [
            "whatif",
            *inputs,
            "--inventory",
            str(EXAMPLES / "inventory.csv"),
            *small,
            "--what-if",
            "exclude=lambda",
            "-q",
        ],
        "compare-aws": [
            "compare-aws",
            *inputs,
            "--inventory",
            str(EXAMPLES / "inventory.csv"),
            *small,
            "--recommendation",
            str(ROOT / "tests" / "aws" / "fixtures" / "ce_savings_plans_recommendation.json"),
            "-q",
        ],
    }
    said = {}
    for name, args in runs.items():
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, (name, r.output)
        assert r.stdout.strip(), name
        assert_no_reprs(r.stdout, name)
        said[name] = r.stdout
