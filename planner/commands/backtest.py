"""``planner backtest USAGE``: replay a usage history and compare the planner with Cost Explorer's
replay and the hindsight optimum (see :mod:`planner.backtest`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from planner.commands.input_options import accept_outliers_option
from planner.commands.options import policy_option, progress_options
from planner.commands.progress import Reporter
from planner.commands.usage import athena_options, resolve_usage_argument
from planner.policy_file import read_policy_file
from planner.report.outputs import check_writable_file
from planner.report.render import render_frame
from planner.workflows.backtest import (
    BacktestRequest,
    BacktestRun,
    SequentialRequest,
    SequentialRun,
    backtest_usage,
    sequential_backtest_usage,
)
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_bytes

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
@click.argument("usage", type=click.Path(dir_okay=False), callback=resolve_usage_argument)
@athena_options
@policy_option
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
    "--mode",
    type=click.Choice(["window", "sequential"]),
    default="window",
    show_default=True,
    help="window: each origin's purchases judged alone on the window after it; sequential: "
    "decisions every --every over the whole history, inventory carried, terms expiring.",
)
@click.option(
    "--every",
    default="7d",
    show_default=True,
    help="Sequential mode: time between decisions (e.g. 7d, 2w).",
)
@click.option(
    "--term-scale",
    default="1y=28d,3y=84d",
    show_default=True,
    help="Sequential mode: map real terms onto the history, prices per GPU-hour kept "
    "(e.g. 1y=28d,3y=84d); 'none' keeps the real terms.",
)
@click.option(
    "--oracle",
    is_flag=True,
    help="Also run planner-oracle: the optimizer and policy on a perfect forecast (separates "
    "forecast error from the cost of the policy).",
)
@progress_options
@accept_outliers_option
def backtest(
    usage: str,
    policy_file: str | None,
    origins: int,
    window: str,
    scenarios: int | None,
    fmt: str,
    plot: str | None,
    mode: str,
    every: str,
    term_scale: str,
    oracle: bool,
    progress: Reporter,
) -> None:
    """Backtest the planner on USAGE (tidy usage CSV/Parquet, FOCUS or CUR).

    At each origin every strategy decides with the usage before it; its purchases are billed on the
    usage that followed. Strategies: all on-demand (and on-demand + spot when the policy has
    interruptible pools), Cost Explorer-style replay over 7, 30 and 60 days, this planner, and the
    hindsight optimum. Regret = cost / hindsight cost - 1. Today's catalog prices the past.

    The planner sizes each pool with the rule (LP on calibrated scenarios, LP on the point
    forecast, or trailing usage over 7/30/60 days) with the lowest root-mean-square regret on
    its own recent past windows (the last 6 in window mode, 8 decisions in sequential mode).
    --mode sequential decides every --every over the whole history with the inventory carried and
    terms mapped by --term-scale; hindsight is one LP over the whole history.
    """
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise PlannerInputError(
            "the regret chart is a PNG file", column="--plot", value=plot, fix="end it in .png"
        )
    check_writable_file(plot, option="--plot")  # before the work, not after
    if mode == "sequential":
        seq = SequentialRequest(every=every, term_scale=term_scale, scenarios=scenarios)
        _show_sequential(
            sequential_backtest_usage(usage, read_policy_file(policy_file), seq, progress=progress),
            fmt,
            plot,
            progress,
        )
        return
    request = BacktestRequest(window=window, origins=origins, scenarios=scenarios, oracle=oracle)
    run = backtest_usage(usage, read_policy_file(policy_file), request, progress=progress)
    result = run.result
    progress.close()
    progress.note(f"done in {result.meta['seconds']['total']:.1f} s")
    for note in result.meta["notes"]:
        progress.note(f"note: {note}")
    if plot is not None:
        from planner.backtest.plot import regret_chart

        atomic_write_bytes(plot, regret_chart(result.windows, title=Path(usage).name))
        progress.note(f"wrote {plot}")
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif fmt == "csv":
        click.echo(render_frame(result.windows, "csv"), nl=False)
    else:
        click.echo(backtest_summary(run), nl=False)


def backtest_summary(run: BacktestRun) -> str:
    """The summary and per-window tables of a backtest, for the terminal."""
    result, settings = run.result, run.settings
    head = (
        f"backtest of {run.usage_file}: {result.meta['windows']} window(s) of "
        f"{settings.window_h / 24:g} days, {settings.n_scenarios} scenarios per origin, planning "
        f"horizon = the window, time reduction {run.time_reduction}; pools: "
        + ", ".join(result.meta["pools"])
    )
    return "\n".join(
        [
            head,
            render_frame(result.summary[list(SUMMARY_SHOWN)], "table", floatfmt=".2f"),
            render_frame(result.windows[list(WINDOW_SHOWN)], "table", floatfmt=".2f"),
        ]
    )


SEQ_SHOWN = (
    "strategy",
    "decisions",
    "regret_pct",
    "worst_period_regret_pct",
    "savings_pct",
    "utilization_pct",
    "coverage_pct",
    "commitments",
)


def _show_sequential(run: SequentialRun, fmt: str, plot: str | None, progress: Reporter) -> None:
    """Render ``--mode sequential`` (see :mod:`planner.backtest.sequential`)."""
    result = run.result
    progress.note(f"done in {result.meta['seconds']['total']:.1f} s")
    for note in result.meta["notes"]:
        progress.note(f"note: {note}")
    if plot is not None:
        from planner.backtest.plot import regret_chart

        periods = result.periods.rename(columns={"start": "window_start"})
        title = f"{Path(run.usage_file).name} (sequential)"
        atomic_write_bytes(plot, regret_chart(periods, title=title))
        progress.note(f"wrote {plot}")
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif fmt == "csv":
        click.echo(render_frame(result.summary, "csv"), nl=False)
    else:
        click.echo(sequential_summary(run), nl=False)


def sequential_summary(run: SequentialRun) -> str:
    """The summary and decisions tables of a sequential backtest, for the terminal."""
    result, scale = run.result, run.term_scale
    scale_text = (
        ", ".join(f"{m} months -> {h / 24:g} days" for m, h in scale.items())
        if scale
        else "real terms"
    )
    head = (
        f"sequential backtest of {run.usage_file}: {result.meta['decisions']} decision(s) every "
        f"{run.settings.every_h / 24:g} days from {result.meta['first_decision']}; terms: "
        f"{scale_text}; {run.settings.n_scenarios} scenarios per decision; regret over the whole "
        "span against one hindsight LP with every decision date; pools: "
        + ", ".join(result.meta["pools"])
    )
    return "\n".join(
        [
            head,
            render_frame(result.summary[list(SEQ_SHOWN)], "table", floatfmt=".2f"),
            render_frame(result.decisions, "table"),
            "",
        ]
    )
