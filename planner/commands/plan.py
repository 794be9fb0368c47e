"""``planner optimize``: the commitment optimizer on its own, from demand scenarios.

Scenarios come from ``--scenarios FILE.npz`` (see planner/optimize/scenarios_file.py) or are
forecast from ``--usage FILE`` with the forecasting package (every GPU type one fixed pool in
``--region``). Writes ``purchases.csv`` and ``plan.json`` atomically into ``--out`` and prints the
summary table; progress goes to stderr. The full quarterly run (forecast, compare, report) is
``planner plan``.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.inventory import read_inventory
from planner.optimize import optimize
from planner.optimize.scenarios_file import read_scenarios
from planner.policy import Policy
from planner.purchase_values import valuation_paths, value_purchases
from planner.report.render import render_frame
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_text


@click.command("optimize")
@click.option(
    "--scenarios",
    "scenarios_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Demand scenarios (.npz, see planner/optimize/scenarios_file.py).",
)
@click.option(
    "--usage",
    "usage_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Usage file to forecast scenarios from (instead of --scenarios).",
)
@click.option(
    "--region",
    default="us-east-1",
    show_default=True,
    help="AWS region of the pools forecast from --usage.",
)
@click.option("--n-scenarios", type=click.IntRange(1, 2000), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--inventory",
    type=click.Path(dir_okay=False),
    default=None,
    help="Existing commitments (inventory CSV).",
)
@click.option("--horizon-months", type=click.IntRange(1, 60), default=12, show_default=True)
@click.option(
    "--ladder-every-months",
    type=click.IntRange(0, 36),
    default=3,
    show_default=True,
    help="Tentative purchase dates every N months (0: buy now only).",
)
@click.option("--lp-relaxation", is_flag=True, help="Fractional RIs/contracts (faster).")
@click.option(
    "--cvar-limit-usd",
    type=float,
    default=None,
    help="CVaR (beta 0.9) of unused commitment spend at most this.",
)
@click.option(
    "--min-utilization",
    type=float,
    default=None,
    help="Minimum commitment utilisation (0-1) in the worst 10% of scenarios.",
)
@click.option(
    "--upfront-budget-usd", type=float, default=None, help="Upfront cash per purchase date."
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Solver time limit in seconds.",
)
@click.option("--as-of", default=None, help="Use price catalogs dated on or before this day.")
@click.option("--overlay", type=click.Path(dir_okay=False), default=None, help="Price overlay.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory for purchases.csv and plan.json.",
)
def optimize_command(
    scenarios_file: str | None,
    usage_file: str | None,
    region: str,
    n_scenarios: int,
    seed: int,
    inventory: str | None,
    horizon_months: int,
    ladder_every_months: int,
    lp_relaxation: bool,
    cvar_limit_usd: float | None,
    min_utilization: float | None,
    upfront_budget_usd: float | None,
    time_limit_s: float,
    as_of: str | None,
    overlay: str | None,
    out_dir: str,
) -> None:
    """Choose commitments for given demand scenarios: purchases.csv, plan.json, summary table."""

    def say(msg: str) -> None:
        click.echo(msg, err=True)

    policy = Policy(
        horizon_months=horizon_months,
        ladder_every_months=ladder_every_months,
        integer=not lp_relaxation,
        cvar_limit_usd=cvar_limit_usd,
        min_utilization=min_utilization,
        upfront_budget_usd=upfront_budget_usd,
        time_limit_s=time_limit_s,
    ).validate()
    if (scenarios_file is None) == (usage_file is None):
        raise PlannerInputError(
            "give exactly one of --scenarios and --usage",
            fix="pass --scenarios FILE.npz, or --usage FILE to forecast scenarios",
        )
    if scenarios_file is not None:
        scenarios = read_scenarios(scenarios_file)
    else:
        from forecasting import forecast, make_pools, read_usage

        say(f"forecasting {n_scenarios} scenarios from {usage_file} ...")
        pooled = make_pools(read_usage(str(usage_file)), (), default_aws_region=region)
        hours = int(horizon_months * 730.5) + 24
        scenarios = forecast(
            pooled, horizon_hours=hours, n_scenarios=n_scenarios, seed=seed
        ).scenarios
    commitments = read_inventory(inventory) if inventory else []
    catalog = load_catalog(as_of=as_of, overlay=overlay)
    plan = optimize(scenarios, catalog.offers, commitments, policy, progress=say)
    plan = value_purchases(
        plan, valuation_paths(scenarios), catalog.offers, commitments, policy, progress=say
    )
    out = Path(out_dir)
    csv_path = out / "purchases.csv"
    atomic_write_text(csv_path, plan.purchases_frame().to_csv(index=False, lineterminator="\n"))
    atomic_write_text(out / "plan.json", plan.to_json())
    frame = plan.purchases_frame()
    shown = frame[
        [
            "purchase_id",
            "provider",
            "purchase_model",
            "sku",
            "term_months",
            "payment_option",
            "quantity",
            "hourly_commitment_usd",
            "start_date",
            "expected_utilization_pct",
            "expected_savings_usd",
        ]
    ]
    click.echo(render_frame(shown, "table", floatfmt=".2f"), nl=False)
    click.echo(render_frame(plan.summary_frame(), "table", floatfmt=",.2f"), nl=False)
    rec = plan.record
    click.echo(
        f"solver {rec['solver']} ({rec['method']}, {rec['status']}) in {rec['solve_time_s']:.1f} s; "
        f"catalogs: {', '.join(catalog.versions)}; wrote {csv_path} and {out / 'plan.json'}"
    )
