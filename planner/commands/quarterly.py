"""``planner plan``: the quarterly planning run, from usage + inventory + policy to a reviewed
purchase list with purchases.csv, plan.json, report.html and chart PNGs."""

from __future__ import annotations

from typing import Any

import click

from planner.commands.options import (
    ConfigFlags,
    load_config,
    out_dir_option,
    output_option,
    planning_options,
    progress_options,
)
from planner.commands.progress import Reporter
from planner.policy_file import defaults_in_force
from planner.report.outputs import write_plan_outputs
from planner.report.render import render_frame
from planner.report.terminal import firm_purchases, plan_summary
from planner.workflows.quarterly import quarterly_plan


@click.command("plan")
@planning_options
@out_dir_option()
@click.option("--no-report", is_flag=True, help="Skip report.html and the charts.")
@output_option
@progress_options
def plan(
    usage: str,
    inventory: str | None,
    out_dir: str,
    no_report: bool,
    fmt: str,
    progress: Reporter,
    **flags: Any,
) -> None:
    """The quarterly planning run: forecast USAGE, choose commitments jointly across AWS, CoreWeave
    and Lambda within the policy's risk bounds, and write purchases.csv, plan.json, comparison.csv,
    report.html and chart PNGs to --out-dir. Progress goes to stderr, the summary to stdout
    (-o csv|json: the purchases to make now)."""
    cfg = load_config(ConfigFlags.pop(flags))
    run = quarterly_plan(usage, config=cfg, inventory_path=inventory, progress=progress)
    written = write_plan_outputs(run, out_dir, report=not no_report, progress=progress)
    if fmt != "table":
        click.echo(render_frame(firm_purchases(run.plan), fmt), nl=False)
        progress.note(f"wrote {', '.join(str(p) for p in written)}")
        return
    click.echo(plan_summary(run, defaults_in_force(cfg)), nl=False)
    click.echo(
        f"wrote {out_dir}/purchases.csv, plan.json, comparison.csv"
        + ("" if no_report else ", report.html and charts")
    )
