"""``planner attribute``: showback of a plan's expected cost by tag value."""

from __future__ import annotations

from pathlib import Path

import click

from forecasting import read_usage
from planner.commands.export import read_plan
from planner.commands.quarterly import stderr_progress
from planner.report.render import FORMATS, render_frame
from planner.workflows.attribute import PER_UNITS, attribute_trend, read_units
from planner.workflows.attribute import attribute as attribute_cost
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
    "window_days",
    type=click.IntRange(1, 3660),
    default=28,
    show_default=True,
    help="Days of recent history that set each tag's share.",
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
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Also write the table as CSV."
)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
def attribute(
    usage: str,
    plan_json: str,
    by: str,
    window_days: int,
    per: str | None,
    units_csv: str | None,
    trend: bool,
    out: str | None,
    fmt: str,
) -> None:
    """Split the expected cost of a plan (commitments amortised by use, on-demand, spot, egress)
    across the values of a tag, with untagged usage as its own line. USAGE is the usage file the
    plan was made from."""
    if (units_csv or trend) and not per:
        raise click.UsageError("--units and --trend need --per (requests, tokens or runs)")
    plan = read_plan(plan_json)
    recorded = (plan.record.get("run") or {}).get("usage_file")
    if recorded and Path(recorded).resolve() != Path(usage).resolve():
        click.echo(
            f"warning: {plan_json} was planned from {recorded}, not {usage}; the scenarios are "
            "re-created from the usage given, so the split will not match the plan's figures",
            err=True,
        )
    history = read_usage(usage)
    units = read_units(units_csv, by, per) if units_csv and per else None
    if trend and per:
        table = attribute_trend(history, plan, by=by, per=per, plan_file=plan_json, units=units)
    else:
        table = attribute_cost(
            history,
            plan,
            by=by,
            window_days=window_days,
            plan_file=plan_json,
            progress=stderr_progress,
            per=per,
            units=units,
        )
    if out:
        atomic_write_text(out, render_frame(table, "csv"))
        click.echo(f"wrote {out}", err=True)
    click.echo(render_frame(table, fmt, floatfmt=",.2f"), nl=False)
