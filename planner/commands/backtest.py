"""``planner backtest USAGE``: replay a usage history and compare the planner with Cost Explorer's
replay and the hindsight optimum (see :mod:`planner.backtest`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from planner.commands.input_options import accept_outliers_option
from planner.report.outputs import check_writable_file
from planner.report.render import render_frame

SUMMARY_SHOWN = (
    "strategy",
    "windows",
    "mean_regret_pct",
    "worst_regret_pct",
    "savings_pct",
    "mean_coverage_pct",
    "min_utilization_pct",
)
WINDOW_SHOWN = (
    "window",
    "window_start",
    "strategy",
    "cost_usd",
    "savings_usd",
    "esr_pct",
    "utilization_pct",
    "waste_usd",
    "coverage_pct",
    "regret_pct",
)


@click.command("backtest")
@click.argument("usage", type=click.Path(dir_okay=False))
@click.option(
    "--policy", "policy_path", type=click.Path(dir_okay=False), help="Policy file (TOML)."
)
@click.option(
    "--origins",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Rolling origins (windows), counted back from the end of the history.",
)
@click.option(
    "--window",
    default="14d",
    show_default=True,
    help="Evaluation window: e.g. 7d, 2w, 336h, or 'rest' (one window: all but the first 7 days).",
)
@click.option(
    "--scenarios",
    type=click.IntRange(min=1),
    default=None,
    help="Forecast scenarios per origin [default: the policy's, at most 30].",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: summary and windows; csv: one row per window and strategy; json: everything.",
)
@click.option("--plot", type=click.Path(dir_okay=False), help="Write the regret chart (PNG).")
@click.option(
    "--oracle",
    is_flag=True,
    help="Also run planner-oracle: the optimizer and policy on a perfect forecast (separates "
    "forecast error from the cost of the policy).",
)
@accept_outliers_option
def backtest(
    usage: str,
    policy_path: str | None,
    origins: int,
    window: str,
    scenarios: int | None,
    fmt: str,
    plot: str | None,
    oracle: bool,
) -> None:
    """Backtest the planner on USAGE (tidy usage CSV/Parquet, FOCUS or CUR).

    At each origin every strategy decides with the usage before it; its purchases are billed on the
    usage that followed. Strategies: all on-demand (and on-demand + spot when the policy has
    interruptible pools), Cost Explorer-style replay over 7, 30 and 60 days, this planner, and the
    hindsight optimum. Regret = cost / hindsight cost - 1. Today's catalog prices the past.
    """
    from forecasting.pools import make_pools
    from forecasting.usage import read_usage
    from planner.backtest import BacktestSettings, run_backtest
    from planner.backtest.windows import parse_duration_h
    from planner.policy_file import egress_usd_per_gpu_hour, read_policy_file
    from pricing_data.catalog import load_catalog
    from pricing_data.errors import PlannerInputError
    from pricing_data.fileio import atomic_write_bytes

    rest = window.strip().lower() == "rest"
    window_h = 0 if rest else parse_duration_h(window, column="--window")
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise PlannerInputError(
            "the regret chart is a PNG file", column="--plot", value=plot, fix="end it in .png"
        )
    cfg = read_policy_file(policy_path)
    policy = replace(cfg.policy, egress_usd_per_gpu_hour=egress_usd_per_gpu_hour(cfg))

    def say(msg: str) -> None:
        click.echo(msg, err=True)

    say(f"reading {usage}")
    check_writable_file(plot, option="--plot")  # before the work, not after
    history = read_usage(usage)
    pooled = make_pools(history, cfg.pool_rules, cfg.default_aws_region)
    offers = load_catalog(cfg.catalog_as_of, overlay=cfg.overlay).offers
    if rest:
        window_h = pooled.n_hours - BacktestSettings().min_history()
        origins = 1
        if window_h < 24:
            raise PlannerInputError(
                "too little history for --window rest",
                file=usage,
                column="--window",
                value=f"{pooled.n_hours} hours",
                fix="give at least 8 days of usage, or a shorter --window",
            )
    settings = BacktestSettings(
        window_h=window_h,
        n_origins=origins,
        n_scenarios=scenarios if scenarios is not None else min(cfg.scenarios, 30),
        seed=cfg.seed,
        oracle=oracle,
    )
    try:
        result = run_backtest(pooled, offers, policy, settings, growth=cfg.growth, progress=say)
    except PlannerInputError as e:
        if e.file is None and e.column == "window":
            e = PlannerInputError(e.what, file=usage, column="--window", value=e.value, fix=e.fix)
        raise e from None
    say(f"done in {result.meta['seconds']['total']:.1f} s")
    for note in result.meta["notes"]:
        say(f"note: {note}")
    if plot is not None:
        from planner.backtest.plot import regret_chart

        atomic_write_bytes(plot, regret_chart(result.windows, title=Path(usage).name))
        say(f"wrote {plot}")
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif fmt == "csv":
        click.echo(render_frame(result.windows, "csv"), nl=False)
    else:
        click.echo(
            f"backtest of {usage}: {result.meta['windows']} window(s) of {window_h / 24:g} days, "
            f"{settings.n_scenarios} scenarios per origin, planning horizon = the window, "
            f"time reduction {policy.time_reduction}; pools: " + ", ".join(result.meta["pools"])
        )
        click.echo(render_frame(result.summary[list(SUMMARY_SHOWN)], "table", floatfmt=".2f"))
        click.echo(render_frame(result.windows[list(WINDOW_SHOWN)], "table", floatfmt=".2f"))
