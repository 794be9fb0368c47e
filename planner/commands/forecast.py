"""``planner forecast``: per-pool model, backtest MASE and P10/P50/P90 of monthly mean demand."""

from __future__ import annotations

import io

import click

from planner.commands.options import horizon_option, output_option, progress_options, seed_option
from planner.commands.progress import Reporter
from planner.commands.usage import ingestion_options, load_pooled
from planner.report.render import render_frame
from planner.report.terminal import forecast_summary, forecast_table
from planner.workflows.demand import forecast_demand
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_text


@click.command("forecast")
@click.argument("usage_file", type=click.Path(dir_okay=True))
@horizon_option("12mo")
@click.option(
    "--scenarios",
    "n_scenarios",
    type=int,
    default=100,
    show_default=True,
    help="Number of demand scenarios.",
)
@seed_option(0)
@click.option(
    "--growth-pct",
    type=float,
    default=0.0,
    help="Annual compound growth on top of the forecast, % per year (not a one-off level change).",
)
@click.option(
    "--growth",
    "growth_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file with a [growth] table: annual_pct and [[growth.steps]] (at, add_gpus, pct, pools).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Candidate model (repeatable): snaive24, snaive168, smean168, ets, mstl_arima, combo.",
)
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Fan chart PNG.")
@click.option(
    "--quantiles",
    "quantiles_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write hourly P10/P50/P90 per pool to this CSV.",
)
@ingestion_options
@output_option
@progress_options
def forecast(
    usage_file: str,
    horizon: str,
    n_scenarios: int,
    seed: int,
    growth_pct: float,
    growth_file: str | None,
    models: tuple[str, ...],
    plot: str | None,
    quantiles_csv: str | None,
    policy: str | None,
    on_duplicate: str,
    gap_fill: str,
    gpu_aliases: tuple[str, ...],
    fmt: str,
    progress: Reporter,
) -> None:
    """Forecast hourly GPU demand per pool from USAGE_FILE as seeded scenario paths.

    Prints, per pool, the model chosen by rolling-origin backtest, its MASE (< 1 beats a seasonal
    naive forecast) and P10/P50/P90 of the mean GPUs per calendar month.
    """
    history, pooled = load_pooled(
        usage_file, policy, on_duplicate, gap_fill, gpu_aliases, pools_only=True
    )
    if pooled is None:
        raise PlannerInputError(
            "no GPU usage to forecast",
            file=usage_file,
            fix="check that the file has GPU rows (GPU instance types or gpu_type values)",
        )
    fc = forecast_demand(
        pooled,
        horizon=horizon,
        n_scenarios=n_scenarios,
        seed=seed,
        growth_pct=growth_pct,
        growth_file=growth_file,
        models=models,
        progress=progress,
    )
    if quantiles_csv:
        buf = io.StringIO()
        fc.quantiles().to_csv(buf, index=False, lineterminator="\n", float_format="%.3f")
        atomic_write_text(quantiles_csv, buf.getvalue())
    if plot:
        from forecasting.plots import fan_chart

        fan_chart(fc, plot)
    if fmt == "table":
        click.echo(forecast_summary(history, fc), nl=False)
        return
    click.echo(render_frame(forecast_table(fc), fmt), nl=False)
