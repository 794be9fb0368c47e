"""Fan chart of a forecast: history, the P10–P90 band, the median and a few scenario paths."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from forecasting.forecast import Forecast


def fan_chart_png(
    fc: Forecast,
    *,
    history_hours: int = 8 * 168,
    n_paths_shown: int = 3,
    max_pools: int = 8,
) -> bytes:
    """A PNG with one panel per pool (at most ``max_pools``): history, P10–P90, P50, paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = fc.scenarios
    pools = sc.pools[:max_pools]
    q = sc.quantiles((0.1, 0.5, 0.9))
    ts = sc.timestamps.tz_localize(None)
    hist = fc.history.iloc[-history_hours:]
    hist_idx = pd.DatetimeIndex(hist.index)
    hist_ts = hist_idx.tz_localize(None) if hist_idx.tz is not None else hist_idx
    fig, axes = plt.subplots(len(pools), 1, figsize=(11, 2.6 * len(pools)), squeeze=False)
    for j, pool in enumerate(pools):
        ax = axes[j, 0]
        ax.plot(hist_ts, hist[pool.name].to_numpy(), color="black", lw=0.6, label="history")
        ax.fill_between(ts, q[0, :, j], q[2, :, j], color="tab:blue", alpha=0.25, label="P10–P90")
        ax.plot(ts, q[1, :, j], color="tab:blue", lw=0.8, label="P50")
        for s in range(min(n_paths_shown, sc.n_scenarios)):
            ax.plot(ts, sc.demand_gpus[s, :, j], color="tab:orange", lw=0.3, alpha=0.6)
        model = fc.models.get(pool.name, "")
        ax.set_title(f"{pool.name} ({model})", fontsize=9)
        ax.set_ylabel("GPUs")
        hist_max = float(hist[pool.name].max()) if len(hist) else 0.0
        ax.set_ylim(0, max(1.0, float(np.nanmax(q[2, :, j])), hist_max) * 1.15)
        if j == 0:
            ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=90)
    finally:
        plt.close(fig)
    return buf.getvalue()
