"""The regret chart: regret per window for each strategy (PNG bytes, matplotlib Agg)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

_STYLE = {
    "on-demand": ("#d62728", ":"),
    "on-demand+spot": ("#ff7f0e", ":"),
    "replay-7": ("#9edae5", "--"),
    "replay-30": ("#17becf", "--"),
    "replay-60": ("#1f77b4", "--"),
    "planner": ("#2ca02c", "-"),
    "hindsight": ("#000000", "-"),
}


def regret_chart(windows: pd.DataFrame, title: str = "") -> bytes:
    """Regret (%) by window start, one line per strategy; on-demand is left out when it would
    squash the others (its regret is in the table)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    others = windows[~windows["strategy"].isin(["on-demand", "on-demand+spot"])]
    top = float(others["regret_pct"].max()) if len(others) else 0.0
    for name, grp in windows.groupby("strategy", sort=False):
        if name in ("on-demand", "on-demand+spot") and float(grp["regret_pct"].max()) > 3 * max(
            top, 1.0
        ):
            continue
        colour, ls = _STYLE.get(str(name), ("#7f7f7f", "-"))
        x = pd.to_datetime(grp["window_start"])
        ax.plot(x, grp["regret_pct"], ls, color=colour, marker="o", label=str(name))
    ax.set_ylabel("regret vs hindsight optimum (%)")
    ax.set_xlabel("window start (UTC)")
    ax.axhline(0, color="#999999", lw=0.8)
    ax.legend(fontsize=8, ncol=3)
    if title:
        ax.set_title(title, fontsize=10)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
