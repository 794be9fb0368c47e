"""``planner export``: the procurement file (a table, CSV, JSON or XLSX) from a saved plan.json.

``-o/--output`` names the format, as on every command that prints data (``plan``, ``optimize``,
``usage``...); ``--out`` names the file. Without ``-o`` the format follows ``--out``'s extension
(``.csv``, ``.json``, ``.xlsx``), else CSV: the procurement file is for a spreadsheet or a script,
so CSV, not a table, is what ``export`` prints by default.
"""

from __future__ import annotations

from pathlib import Path

import click

from planner.report.outputs import check_distinct_outputs, check_writable_file
from planner.report.procurement import EXPORT_FORMATS, render_procurement
from planner.workflows.records import read_plan
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_bytes

OUTPUT_FORMATS = ("table", *EXPORT_FORMATS)


def export_format(fmt: str | None, out_file: str | None) -> str:
    """The format to write: ``-o`` when given, else ``--out``'s extension, else CSV. A known
    extension that contradicts ``-o`` (``--out p.csv -o json``) is refused, and so is XLSX for the
    terminal: either would leave the buyer with a file that does not open as named."""
    suffix = Path(out_file).suffix.lower().lstrip(".") if out_file else ""
    if fmt is None:
        fmt = suffix if suffix in EXPORT_FORMATS else "csv"
    elif suffix in EXPORT_FORMATS and suffix != fmt:
        raise PlannerInputError(
            f"--out names a .{suffix} file but -o asks for {fmt}",
            file=out_file,
            column="-o",
            fix=f"name the file with .{'txt' if fmt == 'table' else fmt}, or drop -o",
        )
    if fmt == "xlsx" and not out_file:
        raise PlannerInputError(
            "an XLSX file cannot go to the terminal", column="-o", fix="add --out purchases.xlsx"
        )
    return fmt


@click.command("export")
@click.argument("plan_json", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(OUTPUT_FORMATS),
    default=None,
    help="table, csv, json or xlsx (default: from --out's extension, else csv).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Write the file here (default or '-': stdout; XLSX needs a file).",
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
    plan_json: str, fmt: str | None, out_file: str | None, out_json: str | None, firm_only: bool
) -> None:
    """Write the procurement file of a saved plan (the purchases.csv contract, docs/purchases-csv.md):
    one row per purchase, stable column order, ISO dates, USD, as a table, CSV, JSON or XLSX."""
    if out_file == "-":
        out_file = None
    fmt = export_format(fmt, out_file)
    check_distinct_outputs({"PLAN_JSON": plan_json, "--out": out_file, "--json": out_json})
    check_writable_file(out_file, option="--out")
    check_writable_file(out_json, option="--json")
    plan = read_plan(plan_json)
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
