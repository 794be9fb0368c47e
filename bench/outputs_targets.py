"""Issue 13's two performance targets, measured on the example organisation:

- ``plan``: the savings-curve step's share of the whole ``planner plan`` wall time (target < 10 %).
  The step is the re-solves (plan.json ``savings_curve_time_s``, timed around
  ``planner.optimize.savings_curve.savings_curves``) plus drawing the chart
  (``planner.report.charts.savings_curves``, timed here). The run is the CLI, in process, with the
  report: what a user waits for.
- ``whatif`` with three changes that leave demand alone (``exclude=lambda``,
  ``risk.cvar_limit=5%``, ``spot.cap_share=0.3``): how many forecasts are fitted (target: the
  plan's forecast once), counted where the models are fitted (``forecasting.forecast.fit_pools``,
  one call a forecast) and split by the history they are fitted on: the whole history is the
  plan's forecast, a shorter one a sizing rule's backtest forecast (planner/backtest/sizing.py).

    .venv/bin/python bench/outputs_targets.py [--scenarios 8] [--horizon 6mo] [--skip plan|whatif]
        [--save-stdout DIR]

Prints date, commit, machine and load average with every figure: wall times on a shared machine are
upper bounds; the counts and the ratio's denominator are what the target is about.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import cli
from planner.plan import Plan

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
NON_DEMAND = ("exclude=lambda", "risk.cvar_limit=5%", "spot.cap_share=0.3")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(module: Any, name: str, spent: list[float], calls: list[Any] | None = None) -> Callable:
    """Wrap ``module.name`` so each call's wall time goes to ``spent`` (and its first positional
    argument's length to ``calls``)."""
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)
            if calls is not None:
                calls.append(len(args[1]))

    setattr(module, name, wrapper)
    return real


SAVE: list[Path] = []  # --save-stdout: where each command's stdout is kept


def run_cli(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = CliRunner().invoke(cli, args)
    wall = time.perf_counter() - t0
    if r.exit_code != 0:
        raise SystemExit(f"planner {' '.join(args)} failed ({r.exit_code}):\n{r.output}")
    if SAVE:
        (SAVE[0] / f"{args[0]}.stdout").write_text(r.stdout)
    return wall, r.stdout


def bench_plan(common: list[str]) -> None:
    charts = importlib.import_module("planner.report.charts")
    drawn: list[float] = []
    real = timed(charts, "savings_curves", drawn)
    try:
        with tempfile.TemporaryDirectory() as out:
            cpu0 = time.process_time()
            wall, _ = run_cli(["plan", *common, "-q", "--out-dir", out])
            cpu = time.process_time() - cpu0
            plan = Plan.from_json((Path(out) / "plan.json").read_text())
    finally:
        charts.savings_curves = real
    solve = plan.record
    curves_s = float(solve.get("savings_curve_time_s", 0.0))
    points = sum(len(v) for v in plan.savings_curves.values())
    step = curves_s + sum(drawn)
    print(f"plan: wall {wall:.1f} s (CPU {cpu:.1f} s of this process), load {load()}")
    print(
        f"  savings curves: {len(plan.savings_curves)} families, {points} points; re-solves "
        f"{curves_s:.2f} s + chart {sum(drawn):.2f} s = {step:.2f} s"
    )
    print(f"  optimizer total {float(solve.get('total_time_s', 0.0)):.1f} s")
    print(f"  share of plan wall time: {100 * step / wall:.1f} % (target < 10 %)")


def bench_whatif(common: list[str]) -> None:
    fc_module = importlib.import_module("forecasting.forecast")
    spent: list[float] = []
    history: list[int] = []
    real = timed(fc_module, "fit_pools", spent, history)
    try:
        args = ["whatif", *common, "-q"]
        for change in NON_DEMAND:
            args += ["--what-if", change]
        wall, stdout = run_cli(args)
    finally:
        fc_module.fit_pools = real
    full = max(history)
    n_full = history.count(full)
    print(f"whatif with {len(NON_DEMAND)} non-demand changes ({', '.join(NON_DEMAND)}):")
    print(f"  wall {wall:.1f} s, load {load()}")
    print(
        f"  forecasts fitted: {n_full} on the whole history ({full:,} h; target 1), "
        f"{len(history) - n_full} sizing-rule backtest forecasts on shorter histories "
        f"({sorted({h for h in history if h != full})} h), {sum(spent):.1f} s fitting"
    )
    print("  " + stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=None, help="default: the policy's 16")
    ap.add_argument("--horizon", default=None, help="default: the policy's 12mo")
    ap.add_argument("--skip", choices=("plan", "whatif"), default=None)
    ap.add_argument("--save-stdout", type=Path, default=None, help="keep each command's stdout")
    args = ap.parse_args()
    if args.save_stdout is not None:
        args.save_stdout.mkdir(parents=True, exist_ok=True)
        SAVE.append(args.save_stdout)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {platform.node()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {load()}"
    )
    common = [
        str(EXAMPLES / "usage.csv"),
        "--inventory",
        str(EXAMPLES / "inventory.csv"),
        "--policy",
        str(EXAMPLES / "policy.toml"),
    ]
    if args.scenarios is not None:
        common += ["--scenarios", str(args.scenarios)]
    if args.horizon is not None:
        common += ["--horizon", args.horizon]
    print(f"# settings: {' '.join(common[1:])}".replace(str(ROOT) + "/", ""))
    if args.skip != "plan":
        bench_plan(common)
    if args.skip != "whatif":
        bench_whatif(common)


if __name__ == "__main__":
    main()
