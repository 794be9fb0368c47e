"""``planner forecast``: per-pool model, backtest MASE and P10/P50/P90 of monthly mean demand."""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pandas as pd

from forecasting.forecast import forecast as run_forecast
from forecasting.models import MODELS
from planner.commands.usage import ingestion_options, load_pooled
from planner.report.render import FORMATS, render_frame
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import atomic_write_text

_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w|mo|m|y|yr)?\s*$", re.IGNORECASE)


def parse_horizon(text: str, start: pd.Timestamp) -> int:
    """Hours from ``720h``, ``30d``, ``4w``, ``12mo`` (calendar months from ``start``), ``1y``."""
    m = _HORIZON.match(text)
    if not m:
        raise PlannerInputError(
            "not a horizon",
            column="--horizon",
            value=text,
            fix="write e.g. 12mo, 36mo, 90d, 2w, 1y or 720h",
        )
    n, unit = float(m.group(1)), (m.group(2) or "mo").lower()
    if unit in ("mo", "m", "y", "yr"):
        months = n * (12 if unit in ("y", "yr") else 1)
        if months != int(months):
            raise PlannerInputError(
                "months must be whole", column="--horizon", value=text, fix="write e.g. 12mo"
            )
        end = start + pd.DateOffset(months=int(months))
        hours = int((end - start) / pd.Timedelta(hours=1))
    else:
        hours = int(n * {"h": 1, "d": 24, "w": 168}[unit])
    if hours < 1 or hours > 36 * 744:
        raise PlannerInputError(
            "horizon out of range",
            column="--horizon",
            value=text,
            fix="forecast between 1 hour and 36 months ahead",
        )
    return hours


def read_growth(path: str) -> dict[str, Any]:
    """The ``[growth]`` table of a TOML file (see :mod:`forecasting.growth`)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlannerInputError("growth file not found", file=path) from None
    except tomllib.TOMLDecodeError as e:
        raise PlannerInputError(f"not valid TOML: {e}", file=path) from None
    table = data.get("growth")
    if not isinstance(table, dict):
        raise PlannerInputError(
            "no [growth] table",
            file=path,
            fix="write [growth] with annual_pct = 30 and/or [[growth.steps]] tables",
        )
    return table


@click.command("forecast")
@click.argument("usage_file", type=click.Path(dir_okay=True))
@click.option("--horizon", default="12mo", show_default=True, help="12mo, 36mo, 90d, 2w, 720h.")
@click.option("--scenarios", "n_scenarios", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--growth-pct", type=float, default=0.0, help="Extra compound growth, % per year.")
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
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
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
) -> None:
    """Forecast hourly GPU demand per pool from USAGE_FILE as seeded scenario paths.

    Prints, per pool, the model chosen by rolling-origin backtest, its MASE (< 1 beats a seasonal
    naive forecast) and P10/P50/P90 of the mean GPUs per calendar month.
    """
    for m in models:
        if m not in MODELS:
            raise UnknownNameError("model", m, MODELS, column="--model")
    history, pooled = load_pooled(
        usage_file, policy, on_duplicate, gap_fill, gpu_aliases, pools_only=True
    )
    if pooled is None:
        raise PlannerInputError(
            "no GPU usage to forecast",
            file=usage_file,
            fix="check that the file has GPU rows (GPU instance types or gpu_type values)",
        )
    hours = parse_horizon(horizon, pooled.end + pd.Timedelta(hours=1))
    growth = read_growth(growth_file) if growth_file else {}
    if growth_pct:
        growth = {**growth, "annual_pct": growth_pct}
    fc = run_forecast(
        pooled,
        horizon_hours=hours,
        n_scenarios=n_scenarios,
        seed=seed,
        growth=growth or None,
        models=models or None,
        progress=lambda msg: click.echo(msg, err=True),
    )
    if quantiles_csv:
        buf = io.StringIO()
        fc.quantiles().to_csv(buf, index=False, lineterminator="\n", float_format="%.3f")
        atomic_write_text(quantiles_csv, buf.getvalue())
    if plot:
        from forecasting.plots import fan_chart

        fan_chart(fc, plot)
    monthly = fc.monthly_summary()
    metrics = fc.metrics
    if fmt == "table":
        shown = metrics[
            ["pool", "model", "mase", "rel_mae", "backtest_origins", "backtest_horizon_h"]
        ]
        click.echo(
            render_frame(
                shown.rename(columns={"rel_mae": "mae_vs_snaive168"}), "table", floatfmt=".3f"
            ),
            nl=False,
        )
        click.echo()
        click.echo(render_frame(monthly, "table", floatfmt=".1f"), nl=False)
        click.echo(
            f"history {history.start} .. {history.end}; {n_scenarios} scenarios, seed {seed}; "
            f"forecast from {fc.scenarios.start} for {hours} h"
        )
        for w in history.report.warnings:
            click.echo(f"warning: {w}")
        return
    table = monthly.merge(metrics[["pool", "model", "mase", "rel_mae"]], on="pool", how="left")
    click.echo(render_frame(table, fmt), nl=False)
