"""How the planner should choose its sizing rule from its record: selection statistics replayed
on the window backtest's per-window costs (issue 12).

Step 1 runs the window backtest of ``bench/backtest_real_series.py`` (same series, prices and
policy) with many weekly origins and every ``rule:<rule>`` strategy, and keeps each window's cost
and regret per strategy. Step 2 replays selection statistics on those rows: at window i, the
record is each rule's regret relative to the best rule (as :class:`planner.backtest.sizing.
RuleRecord` computes it) at the previous ``n`` windows, the statistic picks a rule, and the
window's regret against hindsight is that rule's. The replay reproduces the planner's own regret
exactly when the statistic is the mean over n = 3 (the planner's choice until session 8), which
checks it. Windows before the third are left out for every statistic alike.

Statistics (lower is chosen; ties to the earlier rule): ``mean``, ``median``, ``max`` (minimax
regret), ``mean+se`` (mean plus its standard error), ``rms`` (root-mean-square), each over the
last 3, 6 or all windows. This tunes a choice on these series, so it is reported per series and
the count of series at or below the best replay is the figure to read, not one series.

Run:  nice .venv/bin/python bench/rule_choice_study.py [--origins 20] [--csv rows.csv]
      nice .venv/bin/python bench/rule_choice_study.py --from-csv rows.csv   (step 2 only)
"""

from __future__ import annotations

import argparse
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
from pricing_data.catalog import load_catalog

RULES = (
    "rule:lp-calibrated",
    "rule:lp-point",
    "rule:trailing-30",
    "rule:trailing-60",
    "rule:trailing-7",
)
REPLAYS = ("replay-7", "replay-30", "replay-60")
FIRST = 3  # windows before this one have too short a record for every statistic
Statistic = Callable[[np.ndarray], np.ndarray]  # (windows × rules) regrets -> score per rule


def _se(r: np.ndarray) -> np.ndarray:
    return r.std(axis=0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.zeros(r.shape[1])


def statistics() -> Iterator[tuple[str, int, Statistic]]:
    for n in (3, 6, 10**6):
        label = "all" if n == 10**6 else str(n)
        yield f"mean{label}", n, lambda r: r.mean(axis=0)
        yield f"median{label}", n, lambda r: np.median(r, axis=0)
        yield f"max{label}", n, lambda r: r.max(axis=0)
        yield f"mean+se{label}", n, lambda r: r.mean(axis=0) + _se(r)
        yield f"rms{label}", n, lambda r: np.sqrt((r**2).mean(axis=0))


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
        frames.append(w[["series", "window_start", "strategy", "cost_usd", "regret_pct"]])
        print(
            f"# {name}: {w['window'].nunique()} windows in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    return pd.concat(frames, ignore_index=True)


def replay_choices(rows: pd.DataFrame) -> pd.DataFrame:
    """Step 2: mean regret (%) per series of every statistic's choice, beside the replays'."""
    out = []
    for name, g in rows.groupby("series", sort=False):
        cost = g.pivot_table(index="window_start", columns="strategy", values="cost_usd")
        regret = g.pivot_table(index="window_start", columns="strategy", values="regret_pct")
        if len(cost) <= FIRST:
            continue
        rc = cost[list(RULES)].sort_index().to_numpy()
        record = 100.0 * (rc / rc.min(axis=1, keepdims=True) - 1.0)
        realised = regret.sort_index()
        row: dict[str, object] = {"series": name, "windows": len(cost) - FIRST}
        for s in (*REPLAYS, "planner", *RULES):
            row[s] = float(realised[s].to_numpy()[FIRST:].mean())
        row["best_replay"] = min(float(row[r]) for r in REPLAYS)  # type: ignore[arg-type]
        for label, n, stat in statistics():
            got = []
            for i in range(FIRST, len(cost)):
                j = int(np.argmin(np.round(stat(record[max(0, i - n) : i]), 9)))
                got.append(float(realised[RULES[j]].to_numpy()[i]))
            row[label] = float(np.mean(got))
        out.append(row)
    return pd.DataFrame(out).set_index("series")


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
    table = replay_choices(rows)
    chosen = [c for c in table.columns if c not in (*REPLAYS, *RULES, "windows", "best_replay")]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 60)
    print("mean regret (%) per series, windows from the fourth on")
    print(table[["windows", "best_replay", "rule:lp-point", *chosen]].round(2).T.to_string())
    ratio = table[["rule:lp-point", *chosen]].div(table["best_replay"], axis=0)
    summary = pd.DataFrame(
        {
            "series at or below the best replay": (ratio <= 1.0).sum(),
            "geometric mean ratio": np.exp(np.log(ratio).mean()),
        }
    )
    print("\nagainst the best replay, over", len(table), "series")
    print(summary.round(2).T.to_string())


if __name__ == "__main__":
    main()
