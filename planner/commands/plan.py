"""``planner optimize``: the commitment optimizer on its own, from demand scenarios.

Scenarios come from ``--scenarios-file FILE.npz`` (see planner/optimize/scenarios_file.py) or are
forecast from ``--usage FILE`` (every GPU type one fixed pool in ``--region``). Writes
``purchases.csv`` and ``plan.json`` atomically into ``--out-dir`` and prints the summary table;
progress goes to stderr. The full quarterly run (forecast, compare, report) is ``planner plan``.
"""

from __future__ import annotations

import click

from planner.commands.options import (
    horizon_option,
    inventory_option,
    out_dir_option,
    output_option,
    progress_options,
    scenarios_option,
    seed_option,
)
from planner.commands.progress import Reporter
from planner.policy import Policy
from planner.policy_file import PlanningConfig
from planner.report.outputs import write_optimize_outputs
from planner.report.render import render_frame
from planner.report.terminal import optimize_summary
from planner.workflows.optimize_run import OptimizeRequest, optimize_request
from pricing_data.units import parse_months


@click.command("optimize")
@click.option(
    "--scenarios-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Demand scenarios (.npz, see planner/optimize/scenarios_file.py).",
)
@click.option(
    "--usage",
    "usage_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Usage file to forecast scenarios from (instead of --scenarios-file).",
)
@click.option(
    "--region",
    default="us-east-1",
    show_default=True,
    help="AWS region of the pools forecast from --usage.",
)
@scenarios_option(50)
@seed_option(0)
@inventory_option
@horizon_option("12mo")
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
@out_dir_option("optimize-out")
@output_option
@progress_options
def optimize_command(
    scenarios_file: str | None,
    usage_file: str | None,
    region: str,
    scenarios: int,
    seed: int,
    inventory: str | None,
    horizon: str,
    ladder_every_months: int,
    lp_relaxation: bool,
    cvar_limit_usd: float | None,
    min_utilization: float | None,
    upfront_budget_usd: float | None,
    time_limit_s: float,
    as_of: str | None,
    overlay: str | None,
    out_dir: str,
    fmt: str,
    progress: Reporter,
) -> None:
    """Choose commitments for given demand scenarios: purchases.csv, plan.json, summary table."""
    policy = Policy(
        horizon_months=parse_months(horizon, column="--horizon"),
        ladder_every_months=ladder_every_months,
        integer=not lp_relaxation,
        cvar_limit_usd=cvar_limit_usd,
        min_utilization=min_utilization,
        upfront_budget_usd=upfront_budget_usd,
        time_limit_s=time_limit_s,
    ).validate()
    config = PlanningConfig(
        policy=policy,
        scenarios=scenarios,
        seed=seed,
        catalog_as_of=as_of,
        overlay=overlay,
        default_aws_region=region,
    )
    request = OptimizeRequest(scenarios_file, usage_file, inventory)
    plan = optimize_request(request, config, progress=progress)
    written = write_optimize_outputs(plan, out_dir)
    if fmt != "table":
        click.echo(render_frame(plan.purchases_frame(), fmt), nl=False)
        return
    click.echo(optimize_summary(plan), nl=False)
    click.echo(f"wrote {' and '.join(str(p) for p in written)}")
