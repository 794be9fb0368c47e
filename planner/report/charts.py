"""Charts as PNG bytes (matplotlib, Agg backend: no display needed). Pure functions of plain arrays.

Each function returns the PNG file's bytes so the caller decides where they go (a file written
atomically, or inlined in the HTML report as base64).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

LAYER_COLOURS = {
    "existing": "#6c757d",
    "reserved_instance": "#1f77b4",
    "ec2_instance_savings_plan": "#17becf",
    "compute_savings_plan": "#9edae5",
    "reserved_contract": "#2ca02c",
    "spot": "#ff7f0e",
    "serverless": "#e377c2",
    "on_demand": "#d62728",
}

LAYER_LABELS = {
    "existing": "existing commitments",
    "reserved_instance": "new Reserved Instances",
    "ec2_instance_savings_plan": "new EC2 Instance Savings Plans",
    "compute_savings_plan": "new Compute Savings Plans",
    "reserved_contract": "new reserved contracts",
    "spot": "spot",
    "on_demand": "on-demand",
}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def demand_fan_with_layers(
    history_index: pd.DatetimeIndex,
    history_gpus: np.ndarray,
    forecast_index: pd.DatetimeIndex,
    p10: np.ndarray,
    p50: np.ndarray,
    p90: np.ndarray,
    layers: Mapping[str, np.ndarray],
    *,
    title: str = "GPU demand and how it is served",
) -> bytes:
    """History, the P10–P90 forecast band and median, and the expected GPUs served by each layer
    (existing commitments, new RIs/SPs/contracts, spot, on-demand) stacked over the forecast."""
    fig, ax = plt.subplots(figsize=(11, 4.8))
    ax.plot(history_index, history_gpus, color="black", lw=0.8, label="history")
    bottom = np.zeros(len(forecast_index))
    for name, values in layers.items():
        v = np.asarray(values, dtype=float)
        if not np.any(v > 0):
            continue
        ax.fill_between(
            forecast_index,
            bottom,
            bottom + v,
            step="mid",
            color=LAYER_COLOURS.get(name),
            alpha=0.55,
            lw=0,
            label=LAYER_LABELS.get(name, name.replace("_", " ")),
        )
        bottom = bottom + v
    ax.plot(forecast_index, p90, color="#444", lw=0.9, ls=":", label="forecast P90 (high)")
    ax.plot(forecast_index, p50, color="#222", lw=1.2, ls="--", label="forecast median")
    ax.plot(forecast_index, p10, color="#444", lw=0.9, ls="-.", label="forecast P10 (low)")
    if len(forecast_index):
        ax.axvline(forecast_index[0], color="#888", lw=0.8)  # type: ignore[arg-type]
    ax.set_ylabel("GPUs")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncol=4, frameon=False)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def _usd_axis(ax: plt.Axes) -> None:
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"${v:,.0f}"))


def savings_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    chosen: Mapping[str, float] | None = None,
    units: Mapping[str, str] | None = None,
) -> bytes:
    """Expected saving over all on-demand (USD) against the amount committed now, one panel per
    commitment family (each with its own scale, so the shape shows); a ring marks the plan's
    choice. ``units`` names each family's amount (GPUs or USD per hour)."""
    names = list(curves)
    n = max(1, len(names))
    cols = min(2, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 3.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.axis("off")
            continue
        name = names[k]
        x, y = (np.asarray(v, dtype=float) for v in curves[name])
        ax.plot(x, y, marker="o", ms=4, color="#1f77b4", label="saving at this amount")
        if chosen and name in chosen:
            c = chosen[name]
            ax.plot(
                [c],
                [np.interp(c, x, y)],
                "o",
                ms=10,
                mfc="white",
                mec="#d62728",
                mew=2,
                label="the plan's choice",
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel((units or {}).get(name, "amount committed now"), fontsize=8)
        _usd_axis(ax)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=7, loc="lower center")
    if not names:
        ax = axes.flat[0]
        ax.axis("on")
        ax.text(
            0.5,
            0.5,
            "no savings curve computed (solver.savings_curve_points = 0\nor nothing bought now)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    fig.suptitle("Expected saving over all on-demand vs the amount bought now", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def utilisation_distribution(
    per_purchase: Mapping[str, Sequence[float] | np.ndarray],
    *,
    mean: Mapping[str, float] | None = None,
    low: Mapping[str, float] | None = None,
    high: Mapping[str, float] | None = None,
) -> bytes:
    """Each purchase's utilisation (%) across scenarios: one dot per scenario, a line from the
    ``low`` to the ``high`` quantile and a diamond at the ``mean`` (the same figures as
    purchases.csv when given; else P10, P90 and the plain mean)."""
    names = list(per_purchase)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names) + 2), 4.2))
    for i, name in enumerate(names, start=1):
        v = np.asarray(per_purchase[name], dtype=float)
        lo = (low or {}).get(name, float(np.percentile(v, 10)) if v.size else 0.0)
        hi = (high or {}).get(name, float(np.percentile(v, 90)) if v.size else 0.0)
        m = (mean or {}).get(name, float(v.mean()) if v.size else 0.0)
        ax.scatter(
            np.full(v.size, i),
            v,
            s=10,
            color="#1f77b4",
            alpha=0.4,
            label="one scenario" if i == 1 else None,
        )
        ax.plot([i, i], [lo, hi], color="#333", lw=2, label="P10 to P90" if i == 1 else None)
        ax.plot([i], [m], "D", color="#d62728", ms=7, label="mean" if i == 1 else None)
    if names:
        ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
        ax.legend(fontsize=8, loc="lower left")
    ax.set_xlim(0.4, len(names) + 0.6)
    ax.set_ylim(0, 105)
    ax.set_ylabel("utilisation across scenarios (%)")
    ax.set_title("Utilisation of each purchase (evaluator, forecast window)")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def cost_by_provider(costs: Mapping[str, Mapping[str, float]]) -> bytes:
    """Stacked bars: expected cost (USD) per provider, split by component, the total on each bar."""
    providers = list(costs)
    components = sorted({c for v in costs.values() for c in v})
    fig, ax = plt.subplots(figsize=(7, 4.2))
    bottom = np.zeros(len(providers))
    for comp in components:
        vals = np.array([costs[p].get(comp, 0.0) for p in providers])
        ax.bar(
            providers,
            vals,
            bottom=bottom,
            label=comp.replace("_", " "),
            color=LAYER_COLOURS.get(comp),
        )
        bottom += vals
    for x, total in enumerate(bottom):
        ax.annotate(
            f"${total:,.0f}",
            (x, total),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 3),
            textcoords="offset points",
        )
    ax.set_ylim(0, max(1.0, float(bottom.max(initial=0.0))) * 1.12)
    _usd_axis(ax)
    ax.set_ylabel("expected cost to the end of every term")
    ax.set_title("Cost by provider (this plan, evaluator)")
    if len(components) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)
