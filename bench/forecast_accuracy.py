"""Rolling-origin accuracy of ``forecasting.forecast`` on the real series in tests/data/usage.

For each series and horizon (7 and 28 days), origins every ``--step-days`` days from the first one
with ``--min-train-days`` of history; at each origin the whole method runs on the history before it
(model choice by its own inner backtest, uncertainty calibration, 100 scenario paths), and is scored
on the following hours:

- MASE = MAE(point) / mean |y_t − y_{t−168}| over the training history (classic MASE against a
  seasonal-naive scale);
- rel. MAE = MAE(point) / MAE(snaive168) at the same origins (out-of-sample, < 1 beats it);
- coverage of the 80 % (P10–P90) and 95 % (P2.5–P97.5) intervals of the hourly scenarios.

Hours flagged as outages or gaps in the actuals are not scored. Prints a table; ``--markdown``
prints it as Markdown. Usage: ``.venv/bin/python bench/forecast_accuracy.py [--markdown]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import forecast, make_pools, read_usage
from forecasting.models import make_model

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "usage"
SERIES = ("helios-earth", "philly-node-sequence", "alibaba-spot-gpu-v2026")


def evaluate(
    name: str,
    horizon_days: int,
    step_days: int,
    min_train_days: int,
    n_scen: int,
    method: str = "residual",
):
    pooled = make_pools(read_usage(DATA / name / "usage.csv"))
    y = pooled.demand_gpus.to_numpy(dtype=float)
    miss = pooled.missing_mask().to_numpy()
    n = y.shape[0]
    h = horizon_days * 24
    origins = list(range(min_train_days * 24, n - h + 1, step_days * 24))
    rows = []
    for o in origins:
        fc = forecast(
            pooled.first_hours(o),
            horizon_hours=h,
            n_scenarios=n_scen,
            seed=o,
            scenario_method=method,
        )
        q = fc.scenarios.quantiles((0.025, 0.1, 0.5, 0.9, 0.975))
        point = fc.point_gpus
        assert point is not None
        for j, pool in enumerate(pooled.pools):
            act = y[o : o + h, j]
            ok = ~miss[o : o + h, j]
            train = pooled.for_fitting().to_numpy()[:o, j]
            sn = make_model("snaive168").fit(train).predict(h)
            scale = np.mean(np.abs(train[168:] - train[:-168]))
            rows.append(
                {
                    "series": name,
                    "pool": pool.gpu_type,
                    "origin": o,
                    "model": fc.models[pool.name],
                    "method": fc.metrics.loc[j, "scenario_method"],
                    "mae": np.mean(np.abs(act[ok] - point[ok, j])),
                    "mae_snaive": np.mean(np.abs(act[ok] - sn[ok])),
                    "scale": scale,
                    "cov80": np.mean((act[ok] >= q[1, ok, j]) & (act[ok] <= q[3, ok, j])),
                    "cov95": np.mean((act[ok] >= q[0, ok, j]) & (act[ok] <= q[4, ok, j])),
                }
            )
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    g = df.groupby(["series", "pool"], sort=False)
    out = pd.DataFrame(
        {
            "horizon_d": horizon_days,
            "origins": g.size(),
            "models": g["model"].agg(
                lambda s: ",".join(f"{k}:{v}" for k, v in s.value_counts().items())
            ),
            "MASE": g.apply(lambda x: (x["mae"] / x["scale"]).mean(), include_groups=False),
            "rel_MAE_vs_snaive168": g["mae"].sum() / g["mae_snaive"].sum(),
            "residual_origins": g["method"].agg(lambda s: int((s == "residual").sum())),
            "cov80_pct": 100 * g["cov80"].mean(),
            "cov95_pct": 100 * g["cov95"].mean(),
        }
    ).reset_index()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--scenarios", type=int, default=100)
    ap.add_argument(
        "--scenario-method",
        default="residual",
        choices=["residual", "bootstrap"],
        help="residual: scenarios from out-of-sample errors (default); bootstrap: the old method",
    )
    ap.add_argument("--series", nargs="*", default=list(SERIES))
    args = ap.parse_args()
    t0 = time.perf_counter()
    tables = []
    settings = {
        "helios-earth": (3, 14),  # 31 days: 28-day horizon impossible
        "philly-node-sequence": (7, 21),
        "alibaba-spot-gpu-v2026": (14, 56),
    }
    for name in args.series:
        step, min_train = settings[name]
        for hd in (7, 28):
            n_days = len(read_usage(DATA / name / "usage.csv").data["timestamp"].unique()) // 24
            if n_days < min_train + hd:
                print(f"{name}: {hd}-day horizon skipped ({n_days} days of data)")
                continue
            df = evaluate(name, hd, step, min_train, args.scenarios, args.scenario_method)
            tables.append(summarise(df, hd))
    res = pd.concat(tables, ignore_index=True)
    pd.set_option("display.width", 200)
    if args.markdown:
        print(res.to_markdown(index=False, floatfmt=".3f"))
    else:
        print(res.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"elapsed {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
