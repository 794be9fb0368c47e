"""``planner export``: the procurement file (CSV, JSON or XLSX) from a saved plan.json."""

from __future__ import annotations

from pathlib import Path

import click

from planner.report.outputs import check_distinct_outputs, check_writable_file
from planner.report.procurement import EXPORT_FORMATS, render_procurement
from planner.workflows.records import read_plan
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_bytes


@click.command("export")
@click.argument("plan_json", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the file here (default: CSV or JSON to stdout).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="csv, json or xlsx (default: from --out's extension, else csv).",
)
@click.option(
    "--json",
    "out_json",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the rows as JSON here.",
)
@click.option(
    "--firm-only", is_flag=True, help="Only the purchases to make now (not the tentative ladder)."
)
def export(
    plan_json: str, out_file: str | None, fmt: str | None, out_json: str | None, firm_only: bool
) -> None:
    """Write the procurement file of a saved plan (the purchases.csv contract, docs/purchases-csv.md):
    one row per purchase, stable column order, ISO dates, USD, as CSV, JSON or XLSX."""
    check_distinct_outputs({"PLAN_JSON": plan_json, "--out": out_file, "--json": out_json})
    check_writable_file(out_file, option="--out")
    check_writable_file(out_json, option="--json")
    plan = read_plan(plan_json)
    suffix = Path(out_file).suffix.lower().lstrip(".") if out_file else ""
    fmt = fmt or (suffix if suffix in EXPORT_FORMATS else "csv")
    if fmt == "xlsx" and not out_file:
        raise PlannerInputError(
            "an XLSX file cannot go to the terminal", fix="add --out purchases.xlsx"
        )
    data = render_procurement(plan, fmt, firm_only=firm_only)
    n = len(plan.firm) if firm_only else len(plan.purchases)
    if out_file:
        atomic_write_bytes(out_file, data)
        click.echo(f"wrote {out_file} ({n} purchases, {fmt})", err=True)
    else:
        click.echo(data.decode("utf-8"), nl=False)
    if out_json:
        atomic_write_bytes(out_json, render_procurement(plan, "json", firm_only=firm_only))
        click.echo(f"wrote {out_json}", err=True)
