"""``planner attribute``: showback of a plan's expected cost by tag value."""

from __future__ import annotations

import click

from planner.commands.input_options import accept_outliers_option
from planner.commands.options import out_file_option, output_option, progress_options
from planner.commands.progress import Reporter
from planner.report.outputs import check_writable_file
from planner.report.render import render_frame
from planner.workflows.attribute import attribute as attribute_cost
from planner.workflows.attribute import attribute_trend, read_units, usage_mismatch
from planner.workflows.records import read_plan
from planner.workflows.serverless import PER_UNITS
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
@click.option(
    "--per",
    type=click.Choice(sorted(PER_UNITS)),
    default=None,
    help="Add the cost per unit: per 1k requests, per million tokens, or per training run "
    "(distinct experiment values).",
)
@click.option(
    "--units",
    "units_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of units keyed by hour and tag (timestamp, the --by column, the --per column); "
    "default: the usage file's own column.",
)
@click.option(
    "--trend",
    is_flag=True,
    help="With --per: cost per unit by tag value and month over the usage history (actual usage "
    "billed with the recorded inventory) instead of the plan's expected split.",
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
    per: str | None,
    units_csv: str | None,
    trend: bool,
    out: str | None,
    fmt: str,
    progress: Reporter,
) -> None:
    """Split the expected cost of a plan (commitments amortised by use, on-demand, spot, egress)
    across the values of a tag, with untagged usage as its own line. USAGE is the usage file the
    plan was made from. gpu_hours is measured over the last --window of history; the dollar
    columns are expected costs over every commitment's whole term (the valuation horizon the
    plan's own figures cover). With --per, the cost per request,
    million tokens or training run; with --trend, its monthly history."""
    if (units_csv or trend) and not per:
        raise click.UsageError("--units and --trend need --per (requests, tokens or runs)")
    check_writable_file(out, option="--out")  # before the work, not after
    plan = read_plan(plan_json)
    warning = usage_mismatch(plan, usage, plan_json)
    if warning:
        progress.note(f"warning: {warning}")
    units = read_units(units_csv, by, per) if units_csv and per else None
    if trend and per:
        table = attribute_trend(usage, plan, by=by, per=per, plan_file=plan_json, units=units)
        caption = "cost per unit by month over the history (actual usage, recorded inventory)"
    else:
        result = attribute_cost(
            usage,
            plan,
            by=by,
            window=window,
            plan_file=plan_json,
            progress=progress,
            per=per,
            units=units,
        )
        table, caption = result.table, result.caption
    progress.close()
    if out:
        atomic_write_text(out, render_frame(table, "csv"))
        progress.note(f"wrote {out}")
    click.echo(render_frame(table, fmt, floatfmt=",.2f"), nl=False)
    if fmt == "table":
        click.echo(caption)
