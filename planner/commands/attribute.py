"""``planner attribute``: showback of a plan's expected cost by tag value."""

from __future__ import annotations

import click

from planner.commands.input_options import accept_outliers_option
from planner.commands.options import out_file_option, output_option, progress_options
from planner.commands.progress import Reporter
from planner.report.outputs import check_writable_file
from planner.report.render import render_frame
from planner.workflows.attribute import attribute as attribute_cost
from planner.workflows.attribute import usage_mismatch
from planner.workflows.records import read_plan
from pricing_data.fileio import atomic_write_text


@click.command("attribute")
@click.argument("usage", type=click.Path(dir_okay=False))
@click.option(
    "--plan",
    "plan_json",
    type=click.Path(dir_okay=False),
    required=True,
    help="plan.json from `planner plan`.",
)
@click.option(
    "--by",
    default="team",
    show_default=True,
    help="Tag column: team, project, environment, model, experiment, workload.",
)
@click.option(
    "--window",
    default="28d",
    show_default=True,
    help="Recent history that sets each tag's share (a duration: 28d, 4w, 672h).",
)
@out_file_option("Also write the table as CSV.")
@output_option
@progress_options
@accept_outliers_option
def attribute(
    usage: str,
    plan_json: str,
    by: str,
    window: str,
    out: str | None,
    fmt: str,
    progress: Reporter,
) -> None:
    """Split the expected cost of a plan (commitments amortised by use, on-demand, spot, egress)
    across the values of a tag, with untagged usage as its own line. USAGE is the usage file the
    plan was made from. gpu_hours is measured over the last --window of history; the dollar
    columns are expected costs over every commitment's whole term, as the plan's own figures."""
    check_writable_file(out, option="--out")  # before the work, not after
    plan = read_plan(plan_json)
    warning = usage_mismatch(plan, usage, plan_json)
    if warning:
        progress.note(f"warning: {warning}")
    result = attribute_cost(
        usage, plan, by=by, window=window, plan_file=plan_json, progress=progress
    )
    progress.close()
    if out:
        atomic_write_text(out, render_frame(result.table, "csv"))
        progress.note(f"wrote {out}")
    click.echo(render_frame(result.table, fmt, floatfmt=",.2f"), nl=False)
    if fmt == "table":
        click.echo(result.caption)
