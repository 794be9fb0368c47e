"""``planner forecast``: per-pool model, backtest MASE and P10/P50/P90 of monthly mean demand.

Outputs follow the grammar of the other commands: ``-o table|csv|json`` is how the data is
printed, ``--out FILE`` sends it to a file instead of stdout (``-``: stdout; the format follows
the extension when ``-o`` is not given), and ``--out-dir DIR`` writes the forecast's files
(:data:`FORECAST_FILES`) all or nothing. Every output path is checked before the forecast runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from planner.commands.input_options import accept_outliers_option
from planner.commands.options import horizon_option, progress_options, seed_option
from planner.commands.progress import Reporter
from planner.commands.usage import ingestion_options, load_pooled
from planner.report.outputs import (
    check_distinct_outputs,
    check_writable_dir,
    check_writable_file,
    printed_format,
    write_output_dir,
)
from planner.report.render import FORMATS, render_frame
from planner.report.terminal import forecast_summary, forecast_table
from planner.workflows.demand import forecast_demand
from pricing_data.csv_safe import to_csv_text
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_text

#: What ``--out-dir`` holds after a forecast.
FORECAST_FILES = {
    "forecast.csv": "per pool and month: the model, its backtest scores and P10/P50/P90",
    "quantiles.csv": "hourly P10/P50/P90 GPUs per pool",
    "demand_fan.png": "the fan chart: history, P10-P90 band, median and a few paths",
}


def _moved(option: str) -> Any:
    """The callback of a retired option: a usage error saying what replaced it."""

    def refuse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            raise PlannerInputError(
                f"{option} was replaced by --out-dir",
                column=option,
                value=value,
                fix="give --out-dir DIR: it writes " + ", ".join(FORECAST_FILES) + " into DIR",
            )

    return refuse


@click.command("forecast")
@click.argument("usage_file", type=click.Path(dir_okay=True))
@horizon_option("12mo", months=False)
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
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="How to print the data: a table, CSV or JSON (default: from --out's extension, "
    "else a table).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="Write the printed data to this file instead of stdout ('-': stdout).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write forecast.csv, quantiles.csv (hourly P10/P50/P90 per pool) and "
    "demand_fan.png into this folder, all or nothing (a previous run's planner files there "
    "are replaced).",
)
@click.option("--plot", hidden=True, expose_value=False, callback=_moved("--plot"))
@click.option("--quantiles", hidden=True, expose_value=False, callback=_moved("--quantiles"))
@ingestion_options
@progress_options
@accept_outliers_option
def forecast(
    usage_file: str,
    horizon: str,
    n_scenarios: int,
    seed: int,
    growth_pct: float,
    growth_file: str | None,
    models: tuple[str, ...],
    fmt: str | None,
    out_file: str | None,
    out_dir: str | None,
    policy: str | None,
    on_duplicate: str,
    gap_fill: str,
    gpu_aliases: tuple[str, ...],
    progress: Reporter,
) -> None:
    """Forecast hourly GPU demand per pool from USAGE_FILE as seeded scenario paths.

    Prints, per pool, the model chosen by rolling-origin backtest, its MASE (< 1 beats a seasonal
    naive forecast) and P10/P50/P90 of the mean GPUs per calendar month.
    """
    if out_file == "-":
        out_file = None
    fmt = printed_format(fmt, out_file, formats=FORMATS)
    check_writable_file(out_file, option="--out")  # before the work, not after
    if out_dir is not None:
        check_writable_dir(out_dir)
        in_dir = {f"--out-dir's {name}": Path(out_dir) / name for name in FORECAST_FILES}
        check_distinct_outputs({**in_dir, "--out": out_file})
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
    progress.close()
    if out_dir is not None:
        from forecasting.plots import fan_chart_png  # matplotlib: loaded when drawn

        files = {
            "forecast.csv": to_csv_text(forecast_table(fc)).encode("utf-8"),
            "quantiles.csv": to_csv_text(fc.quantiles(), float_format="%.3f").encode("utf-8"),
            "demand_fan.png": fan_chart_png(fc),
        }
        write_output_dir(out_dir, files)
        progress.note(f"wrote {', '.join(files)} in {out_dir}")
    text = (
        forecast_summary(history, fc) if fmt == "table" else render_frame(forecast_table(fc), fmt)
    )
    if out_file:
        atomic_write_text(out_file, text)
        progress.note(f"wrote {out_file} ({fmt})")
    else:
        click.echo(text, nl=False)
