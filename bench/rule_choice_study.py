"""How the planner should choose its sizing rule from its record: selection statistics replayed
on the window backtest's per-window costs (issue 12).

Step 1 runs the window backtest of ``bench/backtest_real_series.py`` (same series, prices and
policy) with many weekly origins and every ``rule:<rule>`` strategy, and keeps each window's cost
and regret per strategy. Step 2 replays selection statistics on those rows: at window i, the
record is each rule's regret relative to the best rule (as :class:`planner.backtest.sizing.
RuleRecord` computes it) at the previous ``n`` windows, the statistic picks a rule, and the
window's regret against hindsight is that rule's. Windows before the ``SIZING_ORIGINS``-th are
left out for every statistic alike, so every statistic over at most that many windows has its full
record; the replay of the planner's own statistic (RMS over ``SIZING_ORIGINS``) then reproduces
the run's ``planner`` regret, which checks the replay (the largest gap is printed).

Statistics (lower is chosen; ties to the earlier rule): ``mean``, ``median``, ``max`` (minimax
regret), ``mean+se`` (mean plus its standard error), ``rms`` (root-mean-square), each over the
last 3, 6 or all windows; ``rms…+util`` lets compete only the rules whose realised utilisation
met the policy's bound (80 %) at every record window where hindsight's did (all rules when none
did). Besides regret, the windows where the chosen rule's utilisation fell below the bound while
hindsight's met it are counted (the issue's second target: none). This tunes a choice on these series, so it is reported per series and
the count of series at or below the best replay is the figure to read, not one series.

Run:  nice .venv/bin/python bench/rule_choice_study.py [--origins 20] [--csv rows.csv]
      nice .venv/bin/python bench/rule_choice_study.py --from-csv rows.csv   (step 2 only)
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import backtest_real_series as real

from planner.backtest import BacktestSettings, run_backtest
from planner.backtest.sizing import SIZING_ORIGINS
from pricing_data.catalog import load_catalog

RULES = (
    "rule:lp-calibrated",
    "rule:lp-point",
    "rule:trailing-30",
    "rule:trailing-60",
    "rule:trailing-7",
)
REPLAYS = ("replay-7", "replay-30", "replay-60")
FIRST = SIZING_ORIGINS  # windows before this one have a shorter record than the planner's
BOUND_PCT = 100.0 * (real.POLICY.min_utilization or 0.0) - 1e-6
Statistic = Callable[[np.ndarray], np.ndarray]  # (windows × rules) regrets -> score per rule


def _se(r: np.ndarray) -> np.ndarray:
    return r.std(axis=0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.zeros(r.shape[1])


def _rms(r: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt((r**2).mean(axis=0)))


def statistics() -> Iterator[tuple[str, int, Statistic, bool]]:
    """(label, record length, statistic, utilisation filter)."""
    for n in sorted({3, SIZING_ORIGINS, 10**6}):
        label = "all" if n == 10**6 else str(n)
        yield f"mean{label}", n, lambda r: r.mean(axis=0), False
        yield f"median{label}", n, lambda r: np.median(r, axis=0), False
        yield f"max{label}", n, lambda r: r.max(axis=0), False
        yield f"mean+se{label}", n, lambda r: r.mean(axis=0) + _se(r), False
        yield f"rms{label}", n, _rms, False
        yield f"rms{label}+util", n, _rms, True


def window_rows(origins: int, names: list[str]) -> pd.DataFrame:
    """Step 1: per series, window and strategy, the cost (USD) and regret (%)."""
    warnings.filterwarnings("ignore")
    offers = load_catalog(providers=["aws"]).offers
    every = real.series()
    frames = []
    for name in names or list(every):
        path, keep = every[name]
        t0 = time.perf_counter()
        res = run_backtest(
            real.as_h100(path, keep),
            offers,
            real.POLICY,
            BacktestSettings(
                window_h=24 * 7, n_origins=origins, n_scenarios=30, rule_strategies=True
            ),
        )
        w = res.windows.assign(series=name)
        cols = ["series", "window_start", "strategy", "cost_usd", "regret_pct", "utilization_pct"]
        frames.append(w[cols])
        print(
            f"# {name}: {w['window'].nunique()} windows in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    return pd.concat(frames, ignore_index=True)


def replay_choices(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Step 2: per series, the mean regret (%) of every statistic's choice beside the replays',
    and its windows below the utilisation bound where hindsight met it."""
    out, lows = [], []
    for name, g in rows.groupby("series", sort=False):

        def pivot(col: str, g: pd.DataFrame = g) -> pd.DataFrame:
            return g.pivot_table(index="window_start", columns="strategy", values=col).sort_index()

        cost, realised, util = pivot("cost_usd"), pivot("regret_pct"), pivot("utilization_pct")
        if len(cost) <= FIRST:
            continue
        rc = cost[list(RULES)].to_numpy()
        best = rc.min(axis=1, keepdims=True)
        record = np.where(best > 0, 100.0 * (rc / np.where(best > 0, best, 1.0) - 1.0), 0.0)
        u_rule = util[list(RULES)].to_numpy()
        hs_meets = util["hindsight"].to_numpy() >= BOUND_PCT
        row: dict[str, object] = {"series": name, "windows": len(cost) - FIRST}
        low: dict[str, object] = {"series": name}
        for s in (*REPLAYS, "planner", *RULES):
            row[s] = float(realised[s].to_numpy()[FIRST:].mean())
        row["best_replay"] = min(float(row[r]) for r in REPLAYS)  # type: ignore[arg-type]
        for label, n, stat, util_filter in statistics():
            got, below = [], 0
            for i in range(FIRST, len(cost)):
                lo = max(0, i - n)
                score = stat(record[lo:i])
                if util_filter:
                    kept = ~((u_rule[lo:i] < BOUND_PCT) & hs_meets[lo:i, None]).any(axis=0)
                    score = np.where(kept, score, np.inf) if kept.any() else score
                j = int(np.argmin(np.round(score, 9)))
                got.append(float(realised[RULES[j]].to_numpy()[i]))
                below += int(u_rule[i, j] < BOUND_PCT and hs_meets[i])
            row[label], low[label] = float(np.mean(got)), below
        out.append(row)
        lows.append(low)
    return pd.DataFrame(out).set_index("series"), pd.DataFrame(lows).set_index("series")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--series", nargs="*", default=[])
    ap.add_argument("--origins", type=int, default=20)
    ap.add_argument("--csv", help="write step 1's rows here")
    ap.add_argument("--from-csv", help="skip step 1: read its rows from this file")
    args = ap.parse_args()
    rows = pd.read_csv(args.from_csv) if args.from_csv else window_rows(args.origins, args.series)
    if args.csv:
        rows.to_csv(args.csv, index=False)
    table, lows = replay_choices(rows)
    head = subprocess.run(
        ["git", "-C", str(real.ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(
        f"# rule_choice_study  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"commit {head or '?'}  {platform.node()} ({platform.machine()}, {os.cpu_count()} cpus)"
    )
    print(
        f"# window backtest of bench/backtest_real_series.py (its prices and policy), 7-day "
        f"windows; statistics replayed from window {FIRST + 1} on"
    )
    chosen = [c for c in table.columns if c not in (*REPLAYS, *RULES, "windows", "best_replay")]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 60)
    print(f"mean regret (%) per series, windows from window {FIRST + 1} on")
    print(table[["windows", "best_replay", "rule:lp-point", *chosen]].round(2).T.to_string())
    ratio = table[["rule:lp-point", *chosen]].div(table["best_replay"], axis=0)
    summary = pd.DataFrame(
        {
            "series at or below the best replay": (ratio <= 1.0).sum(),
            "geometric mean ratio": np.exp(np.log(ratio).mean()),
            "windows below the bound where hindsight meets it": lows.sum().reindex(ratio.columns),
        }
    )
    print("\nagainst the best replay, over", len(table), "series")
    print(summary.round(2).T.to_string())
    own = f"rms{SIZING_ORIGINS}"
    gap = (table["planner"] - table[own]).abs().max()
    print(f"\ncheck: largest gap between the run's planner and the replayed {own}: {gap:.3g} %")


if __name__ == "__main__":
    main()
