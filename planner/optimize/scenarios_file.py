"""Demand scenarios as a file: a NumPy ``.npz`` archive, for planning from scenarios made elsewhere.

Arrays (names are the format):
    ``start``            0-d string, ISO 8601 UTC timestamp of the first hour
    ``gpu_type``         (P,) strings, canonical GPU type per pool
    ``interruptible``    (P,) bools; ``portable`` (P,) bools; ``aws_region`` (P,) strings
    ``demand_gpus``      (S, H, P) floats, mean GPUs in use per scenario, hour and pool
    ``probabilities``    (S,) floats summing to 1
    ``seed``             optional 0-d int
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import DemandScenarios, Pool
from planner.validate_scenarios import check_scenario_arrays
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_bytes

REQUIRED = ("start", "gpu_type", "interruptible", "portable", "aws_region", "demand_gpus")


def write_scenarios(path: str | Path, scenarios: DemandScenarios) -> Path:
    """Write ``scenarios`` atomically as ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        start=np.array(pd.Timestamp(scenarios.start).isoformat()),
        gpu_type=np.array([p.gpu_type for p in scenarios.pools]),
        interruptible=np.array([p.interruptible for p in scenarios.pools]),
        portable=np.array([p.portable for p in scenarios.pools]),
        aws_region=np.array([p.aws_region for p in scenarios.pools]),
        demand_gpus=scenarios.demand_gpus,
        probabilities=scenarios.probabilities,
        seed=np.array(-1 if scenarios.seed is None else scenarios.seed),
    )
    return atomic_write_bytes(path, buf.getvalue())


def read_scenarios(path: str | Path) -> DemandScenarios:
    """Read a scenarios ``.npz``; errors name the file and the array."""
    name = str(path)
    if not Path(path).is_file():
        raise PlannerInputError("file not found", file=name, fix="check the --scenarios path")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise PlannerInputError(
            f"not a NumPy .npz archive ({e})", file=name, fix="write it with write_scenarios()"
        ) from None
    try:
        return _from_archive(z, name)
    except (ValueError, TypeError, KeyError) as e:  # object arrays, strings as numbers, ...
        raise PlannerInputError(
            f"unreadable arrays ({str(e).splitlines()[0] if str(e) else type(e).__name__})",
            file=name,
            fix="write plain numeric, boolean and string arrays (see write_scenarios())",
        ) from None


def _from_archive(z: Any, name: str) -> DemandScenarios:
    with z:
        missing = [k for k in REQUIRED if k not in z.files]
        if missing:
            raise PlannerInputError(
                "missing arrays",
                file=name,
                value=missing,
                fix="see planner/optimize/scenarios_file.py",
            )
        d = np.asarray(z["demand_gpus"], dtype=float)
        n_p = d.shape[-1] if d.ndim == 3 else 0
        cols = {
            k: np.atleast_1d(z[k]) for k in ("gpu_type", "interruptible", "portable", "aws_region")
        }
        if d.ndim != 3 or any(len(v) != n_p for v in cols.values()):
            raise PlannerInputError(
                "demand_gpus must be scenario x hour x pool with one pool entry per column",
                file=name,
                column="demand_gpus",
                value=d.shape,
                fix="give gpu_type/interruptible/portable/aws_region one entry per pool",
            )
        pools = tuple(
            Pool(str(g), bool(i), bool(p), str(r))
            for g, i, p, r in zip(
                cols["gpu_type"],
                cols["interruptible"],
                cols["portable"],
                cols["aws_region"],
                strict=True,
            )
        )
        probs = (
            np.asarray(z["probabilities"], dtype=float)
            if "probabilities" in z.files
            else np.full(d.shape[0], 1.0 / max(1, d.shape[0]))
        )
        try:
            start = pd.Timestamp(str(z["start"]))
        except ValueError:
            raise PlannerInputError(
                "start is not an ISO timestamp",
                file=name,
                column="start",
                fix="e.g. 2026-01-01T00:00Z",
            ) from None
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        seed = int(z["seed"]) if "seed" in z.files and int(z["seed"]) >= 0 else None
        check_scenario_arrays(d, cols["gpu_type"], cols["aws_region"], name)
    try:
        return DemandScenarios(start, pools, d, probs, seed=seed)
    except PlannerInputError as e:
        raise PlannerInputError(e.what, file=name, value=e.value, fix=e.fix) from None
