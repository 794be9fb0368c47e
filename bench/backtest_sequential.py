"""Sequential backtest of the planner on every real usage series in the repository (issue 12).

Same series, prices and policy as ``bench/backtest_real_series.py`` (one H100 pool in AWS
us-east-1, RIs + EC2 Instance SP + Compute SP, 12/36 months, no upfront, min_utilization 0.8 in
the worst 10 % of scenarios), but decisions every 7 days from day 14 to the end of the trace,
inventory carried, terms mapped onto the trace (1 year -> 28 days, 3 years -> 84 days, prices per
GPU-hour kept), see ``planner/backtest/sequential.py``. Regret = cost over the evaluated span /
hindsight cost - 1, where hindsight is one LP over the whole span with every decision date.

Run:  nice .venv/bin/python bench/backtest_sequential.py [--series helios-earth ...] [--every-days 7]
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
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from backtest_real_series import POLICY, as_h100, series  # noqa: E402

from planner.backtest.sequential import SequentialSettings, run_sequential  # noqa: E402
from planner.backtest.term_lp import parse_term_scale  # noqa: E402
from planner.optimize.offers import relevant_offers  # noqa: E402
from pricing_data.catalog import load_catalog  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--series", nargs="*", help="names (default: all)")
    ap.add_argument("--every-days", type=int, default=7)
    ap.add_argument("--scenarios", type=int, default=30)
    ap.add_argument("--term-scale", default="1y=28d,3y=84d")
    ap.add_argument("--min-utilization", type=float, default=0.8)
    ap.add_argument(
        "--fixed-rules", nargs="*", default=[], help="also run planner-<rule> (diagnostic)"
    )
    ap.add_argument(
        "--cap-replay-rules",
        action="store_true",
        help="also cap the planner's replay rules to the record's span (diagnostic)",
    )
    ap.add_argument(
        "--no-term-cap",
        action="store_true",
        help="let the LP rules buy every term from the first decision (diagnostic)",
    )
    ap.add_argument(
        "--lp-after-full-term",
        action="store_true",
        help="LP rules compete only once the record has billed a whole shortest term (diagnostic)",
    )
    ap.add_argument(
        "--remainder-charge",
        action="store_true",
        help="charge the record for the unexpired part of each purchase's term (diagnostic)",
    )
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    policy = replace(POLICY, min_utilization=args.min_utilization or None).validate()
    offers_all = load_catalog(providers=["aws"]).offers
    all_series = series()
    names = args.series or list(all_series)
    rows, targets = [], []
    t_all = time.perf_counter()
    for name in names:
        pooled = as_h100(*all_series[name])
        offers = relevant_offers(offers_all, pooled.pools)
        t0 = time.perf_counter()
        res = run_sequential(
            pooled,
            offers,
            policy,
            SequentialSettings(
                every_h=24 * args.every_days,
                term_scale=parse_term_scale(args.term_scale),
                n_scenarios=args.scenarios,
                fixed_rules=tuple(args.fixed_rules),
                cap_replay_rules=args.cap_replay_rules,
                term_cap=not args.no_term_cap,
                charge_remainder=args.remainder_charge,
                lp_after_full_term=args.lp_after_full_term,
            ),
            progress=lambda m, name=name: print(f"[{name}] {m}", file=sys.stderr, flush=True),
        )
        secs = time.perf_counter() - t0
        s = res.summary.set_index("strategy")
        for strat in s.index:
            rows.append(
                {
                    "series": name,
                    "days": round(pooled.n_hours / 24, 1),
                    "decisions": int(s.at[strat, "decisions"]),
                    "strategy": strat,
                    "regret_%": float(s.at[strat, "regret_pct"]),
                    "worst_period_regret_%": float(s.at[strat, "worst_period_regret_pct"]),
                    "savings_vs_od_%": float(s.at[strat, "savings_pct"]),
                    "util_%": float(s.at[strat, "utilization_pct"]),
                }
            )
        best = min(float(s.at[f"replay-{d}", "regret_pct"]) for d in (7, 30, 60))
        plan = float(s.at["planner", "regret_pct"])
        rules = res.decisions.filter(like="rule[").iloc[:, 0].value_counts()
        targets.append(
            {
                "series": name,
                "planner_regret_%": plan,
                "best_replay_regret_%": best,
                "ratio": plan / best if best > 0 else math.inf,
                "target_met": bool(plan <= 0.5 * best + 1e-9),
                "rules_chosen": ",".join(f"{k}:{v}" for k, v in rules.items()),
                "notes": len(res.meta["notes"]),
                "seconds": round(secs, 1),
            }
        )
        print(f"[{name}] done in {secs:.0f} s; {res.meta['seconds']}", file=sys.stderr, flush=True)
        # each series as soon as it is done (a long run may be cut short)
        print(pd.DataFrame(rows[-len(s) :]).to_string(index=False), flush=True)
        print(pd.DataFrame(targets[-1:]).to_string(index=False), flush=True)
        print(res.decisions.drop(columns=["record"]).to_string(index=False), flush=True)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 20)
    print(
        f"# backtest_sequential  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"commit {head or '?'}  {platform.node()} ({platform.machine()}, {os.cpu_count()} cpus, "
        f"python {platform.python_version()})"
    )
    print(
        f"# decisions every {args.every_days} d from day 14; terms {args.term_scale}; "
        f"min_utilization {policy.min_utilization}; {args.scenarios} scenarios"
        + ("; replay rules capped too" if args.cap_replay_rules else "")
        + ("; no term cap" if args.no_term_cap else "")
        + ("; record charges unexpired terms" if args.remainder_charge else "")
        + ("; LP rules after a full term of record" if args.lp_after_full_term else "")
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print()
    print(pd.DataFrame(targets).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"# total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
