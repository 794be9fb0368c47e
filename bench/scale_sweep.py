"""Benchmark: how the planner scales — pools (forecast), scenarios and months (optimizer).

Each point runs in a fresh Python process that reports wall time, CPU time (its own plus its
workers') and peak RSS; the growth exponent ``b`` of ``time ≈ a·x^b`` is the least-squares slope of
log time on log x over the points. On a shared machine CPU time is the steadier figure: the wall
time is printed with the load average at the start of each point.

- ``pools``: ``forecasting.forecast`` of N pools × 1 year of hourly history → 100 paths × 12
  months (the synthetic series of bench/forecast_speed.py, pools made distinct by flexibility and
  region), with ``PLANNER_WORKERS=1`` (serial) and ``=2`` (worker processes);
- ``scenarios``: ``planner.optimize`` of the enterprise case (bench/optimizer_cases.py), 12 months,
  S scenarios;
- ``months``: the same with 20 scenarios and an M-month horizon;
- ``optpools``: ``planner.optimize`` of the enterprise case with N pools
  (``optimizer_cases.enterprise_pools``: the 8 enterprise pools, then copies in further AWS
  regions), ``--scenarios`` S, ``--months`` M, ``--reduce`` off or k (the LP on k of the S
  scenarios, ``Policy.scenario_reduction = "on"``), ``--cvar`` the exact CVaR bound on unused
  spend in % of commitment spend (``risk_pricing = "exact"``); prints the split of the time
  (index = numpy/pandas data, PuLP = the model objects, HiGHS = the solver's own clock, the rest
  of the solve = PuLP's copy into HiGHS and the read-back, referee = the evaluator's bill on all
  S scenarios) and the evaluator's expected bill of the plan.

    .venv/bin/python bench/scale_sweep.py pools --points 6,12,24,48,96 --workers 1,2
    .venv/bin/python bench/scale_sweep.py scenarios --points 10,20,40,80
    .venv/bin/python bench/scale_sweep.py months --points 6,12,24,36
    .venv/bin/python bench/scale_sweep.py optpools --points 1,2,4,8,16 --scenarios 100 --reduce off
    .venv/bin/python bench/scale_sweep.py optpools --points 8 --reduce 25 --cvar 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _usage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        "cpu_self_s": me.ru_utime + me.ru_stime,
        "cpu_workers_s": kids.ru_utime + kids.ru_stime,
        "peak_rss_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024,
    }


def point_pools(n_pools: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from forecast_speed import synthetic

    from forecasting import forecast
    from forecasting.pools import PooledUsage
    from forecasting.scenarios import Pool

    base = synthetic(n_pools=6, hours=8760, seed=1)
    cols, pools = {}, []
    flex = [(False, False), (True, False), (False, True), (True, True)]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]
    rng = np.random.default_rng(7)
    for j in range(n_pools):
        src = base.pools[j % 6]
        inter, port = flex[(j // 6) % 4]
        pool = Pool(src.gpu_type, inter, port, regions[(j // 24) % 4])
        pools.append(pool)
        scale = 0.5 + rng.random()
        cols[pool.name] = base.demand_gpus.iloc[:, j % 6].to_numpy() * scale
    demand = base.demand_gpus.__class__(cols, index=base.demand_gpus.index)
    false = demand.astype(bool) & False
    pooled = PooledUsage(
        demand_gpus=demand, pools=tuple(pools), outage_mask=false, gap_mask=false.copy()
    )
    t = time.perf_counter()
    forecast(pooled, horizon_hours=8760, n_scenarios=100, seed=0)
    return {"wall_s": time.perf_counter() - t}


def point_optimizer(n_scenarios: int, months: int) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from optimizer_cases import ENTERPRISE_POOLS, synthetic_scenarios

    from planner.optimize import optimize
    from planner.policy import Policy
    from pricing_data.catalog import load_catalog

    n_hours = int(months * 730.5) + 48
    sc = synthetic_scenarios(ENTERPRISE_POOLS, n_hours=n_hours, n_scenarios=n_scenarios, seed=42)
    offers = load_catalog().offers
    policy = Policy(
        scenario_reduction="off",  # the LP on every scenario (this bench measures it)
        horizon_months=months,
        ladder_every_months=3,
        period="quarter",
        blocks_per_period=4,
        integer=True,
        integer_method="round",
        savings_curve_points=0,
        time_limit_s=1800,
    )
    t = time.perf_counter()
    plan = optimize(sc, offers, [], policy)
    return {
        "wall_s": time.perf_counter() - t,
        "build_s": float(plan.record["build_time_s"]),
        "solve_s": float(plan.record["solve_time_s"]),
    }


def point_optpools(
    n_pools: int,
    n_scenarios: int,
    months: int,
    reduce: str,
    cvar_pct: float | None,
    decomposition: str = "auto",
) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from optimizer_cases import enterprise_pools, synthetic_scenarios

    from planner.optimize import optimize
    from planner.policy import Policy
    from pricing_data.catalog import load_catalog

    offers = load_catalog().offers
    n_hours = int(months * 730.5) + 48
    sc = synthetic_scenarios(
        enterprise_pools(n_pools, offers), n_hours=n_hours, n_scenarios=n_scenarios, seed=42
    )
    policy = Policy(
        horizon_months=months,
        ladder_every_months=3,
        period="quarter",
        blocks_per_period=4,
        integer=True,
        integer_method="round",
        savings_curve_points=0,
        time_limit_s=3600,
        scenario_reduction="off" if reduce == "off" else "on",
        reduce_scenarios_to=25 if reduce == "off" else int(reduce),
        cvar_limit_pct=cvar_pct,
        cvar_beta=0.9,
        risk_pricing="exact" if cvar_pct is not None else "conservative",
        decomposition=decomposition,
    )
    t = time.perf_counter()
    plan = optimize(sc, offers, [], policy)
    rec = plan.record
    red = rec["scenario_reduction"]
    return {
        "wall_s": time.perf_counter() - t,
        "build_s": float(rec["build_time_s"]),
        "index_s": float(rec["index_time_s"]),
        "solve_s": float(rec["solve_time_s"]),
        "highs_s": float(rec["highs_time_s"]),
        "referee_s": float(rec["referee_time_s"]),
        "variables": float(rec["sizes"]["variables"]),
        "constraints": float(rec["sizes"]["constraints"]),
        "lp_scenarios": float(rec["sizes"]["scenarios"]),
        "bill_usd": float(plan.expected_cost_usd["total"]),
        "distance": float(red["kantorovich_distance_usd_per_hour"]) if red else 0.0,
        "bounds_held": float(all(b["held"] for b in plan.bounds)),
        "rounds": float(sum(1 for n in rec["notes"] if n.startswith("round "))),
        "decomposed": float(any("Benders decomposition" in n for n in rec["notes"])),
    }


def exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["pools", "scenarios", "months", "optpools"])
    ap.add_argument("--scenarios", type=int, default=100, help="optpools: S")
    ap.add_argument("--months", type=int, default=36, help="optpools: horizon months")
    ap.add_argument("--reduce", default="off", help="optpools: off, or k scenarios for the LP")
    ap.add_argument("--cvar", type=float, default=None, help="optpools: CVaR limit, %% of spend")
    ap.add_argument(
        "--decomposition",
        default="auto",
        choices=["auto", "scenarios", "off"],
        help="optpools: the policy's decomposition (off: the whole LP)",
    )
    ap.add_argument("--points", default="")
    ap.add_argument("--workers", default="1,2", help="pools: PLANNER_WORKERS values")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        if args.what == "pools":
            r = point_pools(args.one)
        elif args.what == "optpools":
            r = point_optpools(
                args.one, args.scenarios, args.months, args.reduce, args.cvar, args.decomposition
            )
        elif args.what == "scenarios":
            r = point_optimizer(args.one, 12)
        else:
            r = point_optimizer(20, args.one)
        print(json.dumps({**r, **_usage()}))
        return
    defaults = {
        "pools": "6,12,24,48,96",
        "scenarios": "10,20,40,80",
        "months": "6,12,24,36",
        "optpools": "1,2,4,8,16",
    }
    points = [int(x) for x in (args.points or defaults[args.what]).split(",")]
    worker_runs = [int(w) for w in args.workers.split(",")] if args.what == "pools" else [0]
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; sweep {args.what} {points}",
        flush=True,
    )
    for workers in worker_runs:
        walls, cpus, solves = [], [], []
        for x in points:
            env = dict(os.environ)
            if workers:
                env["PLANNER_WORKERS"] = str(workers)
            load = os.getloadavg()[0]
            proc = subprocess.run(
                [sys.executable, __file__, args.what, "--one", str(x)]
                + (
                    [
                        f"--scenarios={args.scenarios}",
                        f"--months={args.months}",
                        f"--reduce={args.reduce}",
                        f"--decomposition={args.decomposition}",
                    ]
                    + ([f"--cvar={args.cvar}"] if args.cvar is not None else [])
                    if args.what == "optpools"
                    else []
                ),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if proc.returncode != 0:
                print(
                    f"{args.what}={x}: failed: {proc.stderr.strip().splitlines()[-3:]}", flush=True
                )
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            walls.append((x, r["wall_s"]))
            cpus.append((x, r["cpu_s"]))
            extra = (
                f" (build {r['build_s']:.1f} s, solve {r['solve_s']:.1f} s)"
                if "build_s" in r
                else ""
            )
            if workers > 1 and r["cpu_workers_s"] > 0:
                # on an idle machine the parent's own work is serial and the workers share the
                # cores: wall ~ parent CPU + workers' CPU / workers
                idle = r["cpu_self_s"] + r["cpu_workers_s"] / workers
                extra += (
                    f" (parent CPU {r['cpu_self_s']:.1f} s + workers {r['cpu_workers_s']:.1f} s:"
                    f" ~{idle:.0f} s on {workers} idle cores)"
                )
            if "highs_s" in r:
                extra = (
                    f" ({r['variables']:,.0f} vars, {r['constraints']:,.0f} rows, LP on "
                    f"{r['lp_scenarios']:.0f} scenarios; index {r['index_s']:.1f} s, PuLP "
                    f"{r['build_s'] - r['index_s']:.1f} s, solve {r['solve_s']:.1f} s of which "
                    f"HiGHS {r['highs_s']:.1f} s, referee {r['referee_s']:.1f} s; evaluator's "
                    f"expected bill {r['bill_usd']:,.0f} USD, distance {r['distance']:,.1f}, "
                    f"bounds held {bool(r['bounds_held'])}, tightening rounds {r['rounds']:.0f}, "
                    f"{'decomposed' if r.get('decomposed') else 'whole LP'})"
                )
            if "solve_s" in r:
                solves.append((x, r["solve_s"]))
            label = f"{args.what}={x}" + (f" workers={workers}" if workers else "")
            print(
                f"{label:>22}: wall {r['wall_s']:7.1f} s{extra}, CPU {r['cpu_s']:7.1f} s, "
                f"peak RSS {r['peak_rss_mb']:,.0f} MB, load average {load:.1f}",
                flush=True,
            )
        if len(walls) >= 2:
            xs = [float(x) for x, _ in walls]
            print(
                f"{'':>22}  growth exponent (time ~ x^b): wall b = "
                f"{exponent(xs, [w for _, w in walls]):.2f}, CPU b = "
                f"{exponent(xs, [c for _, c in cpus]):.2f}"
                + (
                    f", solve (wall) b = {exponent(xs, [v for _, v in solves]):.2f}"
                    if len(solves) >= 2
                    else ""
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
