"""Backtest the planner on every real usage series in the repository, at one stated set of prices.

Series (tidy copies under tests/data/usage/, see tests/data/README.md for attribution):
  helios-earth            SenseTime Helios "Earth" cluster, V100 GPUs in use, 31 days
  philly-node-sequence    Microsoft Philly, active *servers* (no GPUs-per-server factor is assumed:
                          one server counts as one GPU; costs are linear in demand, so regret and
                          savings percentages do not depend on that factor, up to whole RI units)
  alibaba-<type>          Alibaba spot GPU trace, one series per GPU type (6 types), 184 days
  alibaba-all             the six Alibaba types summed

Prices: every series is relabelled as one H100 pool in AWS us-east-1 (fixed: no spot, no other
cloud), so every series faces the same prices: the shipped AWS catalog's p5 offers (on-demand, standard
and convertible RIs, EC2 Instance and Compute Savings Plans), 12- and 36-month terms, no upfront.
Policy: min_utilization 0.8 in the worst 10 % of scenarios, integer RIs, duration-curve time
reduction (4 blocks per month), 30 scenarios per origin, planning horizon = the window.
planner-oracle (diagnostic): the same optimizer and policy handed the window's actual usage as its
only scenario (a perfect forecast): its regret is what the policy and the LP's approximations cost.
Windows: 7 days, rolling origins counted back from the end of each series (at least 7 days of history).
The planner chooses its sizing rule per pool on its 6 previous windows (planner/backtest/sizing.py);
rule:<rule> rows run one rule everywhere (diagnostic). Target (issue 12): planner mean regret <= the
best replay's (ratio <= 1), no window below the utilisation bound where hindsight meets it.

Run:  nice .venv/bin/python bench/backtest_real_series.py [--series helios-earth ...] [--origins 6]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.pools import PooledUsage, make_pools  # noqa: E402
from forecasting.usage import read_usage  # noqa: E402
from planner.backtest import BacktestSettings, run_backtest  # noqa: E402
from planner.policy import Policy  # noqa: E402
from pricing_data.catalog import load_catalog  # noqa: E402

USAGE = ROOT / "tests" / "data" / "usage"
POLICY = Policy(
    providers=("aws",),
    purchase_models=("reserved_instance", "ec2_instance_savings_plan", "compute_savings_plan"),
    terms_months=(12, 36),
    payment_options=("no_upfront",),
    min_utilization=0.8,
    min_utilization_tail=0.1,
    integer=True,
    time_reduction="duration_curve",
    savings_curve_points=0,
).validate()
SHOWN = (
    "replay-7",
    "replay-30",
    "replay-60",
    "planner",
    "rule:lp-calibrated",
    "rule:lp-point",
    "planner-oracle",
    "hindsight",
)


def series() -> dict[str, tuple[Path, str | None]]:
    """name -> (usage file, GPU type kept (None: all, summed))."""
    out: dict[str, tuple[Path, str | None]] = {
        "helios-earth": (USAGE / "helios-earth" / "usage.csv", None),
        "philly-node-sequence": (USAGE / "philly-node-sequence" / "usage.csv", None),
    }
    ali = USAGE / "alibaba-spot-gpu-v2026" / "usage.csv"
    types = sorted(pd.read_csv(ali, usecols=["gpu_type"])["gpu_type"].unique())
    for t in types:
        out[f"alibaba-{t.removeprefix('other:alibaba-')}"] = (ali, t)
    out["alibaba-all"] = (ali, None)
    return out


def as_h100(path: Path, keep: str | None) -> PooledUsage:
    history = read_usage(path)
    data = history.data
    if keep is not None:
        data = data[data["gpu_type"] == keep]
    data = data.assign(gpu_type="H100", region="us-east-1", provider="aws")
    return make_pools(replace(history, data=data.reset_index(drop=True)), [])


def _progress(name: str) -> Callable[[str], None]:
    def say(msg: str) -> None:
        print(f"[{name}] {msg}", file=sys.stderr, flush=True)

    return say


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--series", nargs="*", help="names (default: all)")
    ap.add_argument("--origins", type=int, default=6)
    ap.add_argument("--window-days", type=int, default=7)
    ap.add_argument("--scenarios", type=int, default=30)
    ap.add_argument(
        "--min-utilization",
        type=float,
        default=0.8,
        help="the policy's risk bound (worst 10%% of scenarios); 0 drops the bound",
    )
    ap.add_argument(
        "--forecast-models",
        nargs="*",
        help="restrict the forecaster's candidate models (diagnostic; default: its own choice)",
    )
    args = ap.parse_args()
    policy = replace(POLICY, min_utilization=args.min_utilization or None).validate()
    warnings.filterwarnings("ignore")
    offers = load_catalog(providers=["aws"]).offers
    all_series = series()
    names = args.series or list(all_series)
    rows, targets = [], []
    t_all = time.perf_counter()
    for name in names:
        path, keep = all_series[name]
        pooled = as_h100(path, keep)
        t0 = time.perf_counter()
        res = run_backtest(
            pooled,
            offers,
            policy,
            BacktestSettings(
                window_h=24 * args.window_days,
                n_origins=args.origins,
                n_scenarios=args.scenarios,
                forecast_models=tuple(args.forecast_models) if args.forecast_models else None,
                oracle=True,
                rule_strategies=True,
            ),
            progress=_progress(name),
        )
        secs = time.perf_counter() - t0
        s = res.summary.set_index("strategy")

        def fig(strat: str, col: str, s: pd.DataFrame = s) -> float:
            return float(s.at[strat, col])  # type: ignore[arg-type]

        for strat in SHOWN:
            rows.append(
                {
                    "series": name,
                    "days": round(pooled.n_hours / 24, 1),
                    "windows": int(fig(strat, "windows")),
                    "strategy": strat,
                    "mean_regret_%": fig(strat, "mean_regret_pct"),
                    "worst_regret_%": fig(strat, "worst_regret_pct"),
                    "savings_vs_od_%": fig(strat, "savings_pct"),
                    "min_util_%": fig(strat, "min_utilization_pct"),
                }
            )
        best_replay = min(fig(f"replay-{d}", "mean_regret_pct") for d in (7, 30, 60))
        planner = fig("planner", "mean_regret_pct")
        w = res.windows
        bound = 100 * (policy.min_utilization or 0) - 1e-6
        putil = w.loc[w["strategy"] == "planner", "utilization_pct"].astype(float).to_numpy()
        hutil = w.loc[w["strategy"] == "hindsight", "utilization_pct"].astype(float).to_numpy()
        low = int((putil < bound).sum())
        low_where_hs_meets = int(((putil < bound) & (hutil >= bound)).sum())
        pw = w[w["strategy"] == "planner"]
        rules = pw["note"].str.extract(r"rules ([^ (;]+)")[0].value_counts()
        targets.append(
            {
                "series": name,
                "planner_mean_regret_%": planner,
                "oracle_mean_regret_%": fig("planner-oracle", "mean_regret_pct"),
                "best_replay_mean_regret_%": best_replay,
                "ratio": planner / best_replay if best_replay > 0 else math.inf,
                "target_met": bool(planner <= best_replay + 1e-9),
                "below_util_bound": low,
                "below_where_hindsight_meets": low_where_hs_meets,
                "rules": ",".join(f"{k}:{v}" for k, v in rules.items()),
                "abs_bias_%": float(pw["forecast_bias_pct"].abs().mean()),
                "in_p10_p90": f"{int(pw['actual_in_p10_p90'].sum())}/{len(pw)}",
                "seconds": round(secs, 1),
            }
        )
        print(f"[{name}] done in {secs:.0f} s; notes: {len(res.meta['notes'])}", file=sys.stderr)
        # each series as soon as it is done (a long run may be cut short)
        print(pd.DataFrame(rows[-len(SHOWN) :]).to_string(index=False), flush=True)
        print(pd.DataFrame(targets[-1:]).to_string(index=False), flush=True)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"# backtest_real_series  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"commit {head or '?'}  "
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cpus, python "
        f"{platform.python_version()})"
    )
    print(
        "# prices: shipped AWS catalog, H100 (p5) in us-east-1, on-demand 6.88 USD/GPU-h; "
        "RIs + EC2 Instance SP + Compute SP, 12/36 months, no upfront"
    )
    print(
        f"# policy: min_utilization {policy.min_utilization} (worst 10 % of scenarios), "
        "integer RIs, duration curve (4 blocks per month); "
        f"{args.scenarios} scenarios; windows {args.window_days} d; up to {args.origins} origins; "
        f"forecast models: {' '.join(args.forecast_models) if args.forecast_models else 'default'}"
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print()
    print(pd.DataFrame(targets).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"# total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
