"""``planner export``: the procurement CSV (and JSON) from a saved plan.json."""

from __future__ import annotations

import click

from planner.report.render import render_frame
from planner.workflows.records import read_plan
from pricing_data.fileio import atomic_write_text


@click.command("export")
@click.argument("plan_json", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write purchases.csv here.",
)
@click.option(
    "--json",
    "out_json",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the rows as JSON.",
)
@click.option(
    "--firm-only", is_flag=True, help="Only the purchases to make now (not the tentative ladder)."
)
def export(plan_json: str, out_csv: str | None, out_json: str | None, firm_only: bool) -> None:
    """Write the procurement CSV of a saved plan: one row per purchase, stable column order, ISO
    dates, USD. Prints the CSV to stdout when no --out is given."""
    plan = read_plan(plan_json)
    df = plan.purchases_frame()
    if firm_only:
        firm_ids = {p.commitment.commitment_id for p in plan.purchases if p.firm}
        df = df[df["purchase_id"].isin(firm_ids)].reset_index(drop=True)
    csv_text = render_frame(df, "csv")
    if out_csv:
        atomic_write_text(out_csv, csv_text)
        click.echo(f"wrote {out_csv} ({len(df)} purchases)", err=True)
    else:
        click.echo(csv_text, nl=False)
    if out_json:
        atomic_write_text(out_json, render_frame(df, "json"))
        click.echo(f"wrote {out_json}", err=True)
