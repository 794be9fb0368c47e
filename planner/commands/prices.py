"""``planner prices``: list and compare offers in the catalog."""

from __future__ import annotations

import click

from planner.report.render import FORMATS, render_frame
from pricing_data.catalog import load_catalog
from pricing_data.schema import PURCHASE_MODELS
from pricing_data.units import parse_term
from pricing_data.views import LISTING_COLUMNS, cheapest_by_gpu

TABLE_COLUMNS = [
    "provider",
    "region",
    "sku",
    "gpu_type",
    "gpus_per_unit",
    "purchase_model",
    "offering_class",
    "term_months",
    "payment_option",
    "effective_usd_per_hour",
    "usd_per_gpu_hour",
    "assumed",
    "overlay",
]


@click.group(invoke_without_command=True)
@click.option(
    "--provider", "providers", multiple=True, help="aws, coreweave or lambda (repeatable)."
)
@click.option("--region", "regions", multiple=True, help="Region code (repeatable).")
@click.option("--gpu", "gpus", multiple=True, help="GPU type, e.g. H100, A100-80GB (repeatable).")
@click.option(
    "--purchase-model",
    "models",
    multiple=True,
    type=click.Choice(PURCHASE_MODELS),
    help="Purchase model (repeatable).",
)
@click.option("--term", "terms", multiple=True, help="Term: 12, 36, 1y, 3y; 0 for on-demand/spot.")
@click.option(
    "--as-of", default=None, help="Use the catalogs dated on or before this day (YYYY-MM-DD)."
)
@click.option(
    "--overlay", type=click.Path(dir_okay=False), default=None, help="Price overlay (CSV/TOML)."
)
@click.option(
    "--cheapest", is_flag=True, help="Per GPU type, the best $/GPU-hour per purchase model."
)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@click.pass_context
def prices(
    ctx: click.Context,
    providers: tuple[str, ...],
    regions: tuple[str, ...],
    gpus: tuple[str, ...],
    models: tuple[str, ...],
    terms: tuple[str, ...],
    as_of: str | None,
    overlay: str | None,
    cheapest: bool,
    fmt: str,
) -> None:
    """List offers from the price catalog with their effective $/GPU-hour.

    Prices marked assumed=True are labelled assumptions (see pricing_data/assumptions.toml), not
    published prices.
    """
    if ctx.invoked_subcommand is not None:
        return
    catalog = load_catalog(as_of=as_of, overlay=overlay)
    selected = catalog.select(
        provider=providers or None,
        region=regions or None,
        gpu_type=gpus or None,
        purchase_model=models or None,
        term_months=[parse_term(t) for t in terms] if terms else None,
    )
    if cheapest:
        table = cheapest_by_gpu(selected.offers)
        if fmt == "table":
            table = table.assign(
                usd_per_gpu_hour=[
                    f"{p:.4f}{'*' if a else ''}"
                    for p, a in zip(table["usd_per_gpu_hour"], table["assumed"], strict=True)
                ]
            ).drop(columns=["assumed"])
    else:
        table = selected.offers[LISTING_COLUMNS if fmt != "table" else TABLE_COLUMNS]
        table = table.sort_values(
            ["gpu_type", "provider", "region", "purchase_model", "usd_per_gpu_hour"]
        )
    click.echo(render_frame(table, fmt), nl=False)
    if fmt == "table":
        if cheapest:
            click.echo("* assumed price (a labelled assumption, not a published price)")
        click.echo(
            f"catalogs: {', '.join(catalog.versions)}"
            + (f"; overlay: {overlay}" if overlay else "")
        )
