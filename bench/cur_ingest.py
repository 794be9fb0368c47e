"""Benchmark: ingest synthetic AWS CUR 2.0 exports (bench/cur_synth.py) with ``read_usage``.

For each file and tag mode, one fresh Python process reads the export and reports its wall time,
the duckdb reduction's row count (what pandas receives), the GPU-hours found and the process's
peak RSS (``ru_maxrss``: everything — interpreter, pandas, duckdb's buffers). Tag modes:

- ``rules``: what ``planner forecast --policy`` keeps: the policy's tags, values folded, and tag
  tuples folded into the classes of rules they satisfy (bounded by hours × instance types × paid-as
  × regions × rule classes, whatever the number of tag values);
- ``policy``: the policy's tags with their values folded, tuples kept;
- ``all``: every tag with every value (``planner usage``, which shows totals by tag) — the old
  behaviour; it grows with the distinct tag tuples (here 20,000 experiment values);
- ``none``: no tags (``planner plan`` without rules).

    .venv/bin/python bench/cur_synth.py /tmp/cur-20m.parquet --lines 20000000
    .venv/bin/python bench/cur_ingest.py /tmp/cur-20m.parquet --modes rules,policy,all
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

#: pool rules of a typical policy: training is interruptible and portable, two teams' dev work
#: is interruptible (values as in bench/cur_synth.py)
POLICY = {
    "pools": [
        {"match": {"workload": "training"}, "interruptible": True, "portable": True},
        {"match": {"team": ["team-1", "team-2"], "environment": "dev"}, "interruptible": True},
    ]
}


def one(path: str, mode: str) -> dict[str, float | int | str]:
    """Read ``path`` in this process; the figures as a dict."""
    from forecasting import read_usage
    from forecasting.billing_sql import policy_tags, tags_for_rules
    from forecasting.pools import load_pool_rules
    from forecasting.usage import TAG_COLUMNS

    tags: object
    if mode == "rules":
        tags = policy_tags(load_pool_rules(POLICY), TAG_COLUMNS)
    elif mode == "policy":
        tags = tags_for_rules(load_pool_rules(POLICY), TAG_COLUMNS)
    elif mode == "none":
        tags = {}
    else:
        tags = None
    import forecasting.billing as billing

    rows = {"n": 0}
    real = billing.usage_from_reduction

    def counting(agg, **kw):  # type: ignore[no-untyped-def]
        rows["n"] = len(agg)
        return real(agg, **kw)

    billing.usage_from_reduction = counting  # type: ignore[assignment]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    h = read_usage(path, tags=tags)
    wall = time.perf_counter() - t
    return {
        "file": Path(path).name,
        "mode": mode,
        "wall_s": round(wall, 1),
        "cpu_s": round(time.process_time(), 1),
        "reduced_rows": rows["n"],
        "usage_rows": len(h.data),
        "gpu_hours": round(float(h.data["gpus"].sum()), 1),
        "rss_before_mb": round(rss0),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--modes", default="rules,policy,all")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.paths[0], args.modes)))
        return
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    for path in args.paths:
        size = Path(path).stat().st_size / 1e6
        for mode in args.modes.split(","):
            load = os.getloadavg()[0]
            proc = subprocess.run(
                [sys.executable, __file__, path, "--modes", mode, "--one"],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(f"{Path(path).name} {mode}: failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{r['file']:>22} ({size:,.0f} MB) tags={mode:6s} wall {r['wall_s']:6.1f} s "
                f"(CPU {r['cpu_s']:.1f} s) reduced rows {r['reduced_rows']:>10,} usage rows "
                f"{r['usage_rows']:>9,} GPU-h {r['gpu_hours']:>14,.0f} peak RSS "
                f"{r['peak_rss_mb']:,} MB (at start {r['rss_before_mb']} MB) load {load:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
