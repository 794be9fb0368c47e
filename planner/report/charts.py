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
            label=name.replace("_", " "),
        )
        bottom = bottom + v
    ax.fill_between(
        forecast_index, p10, p90, color="#444", alpha=0.15, lw=0, label="P10–P90 demand"
    )
    ax.plot(forecast_index, p50, color="#222", lw=0.9, ls="--", label="P50 demand")
    ax.set_ylabel("GPUs")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def savings_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    chosen: Mapping[str, float] | None = None,
) -> bytes:
    """Expected savings (USD) against the committed amount, one line per commitment family; a dot
    marks the plan's choice."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, (x, y) in curves.items():
        line = ax.plot(x, y, marker="o", ms=3, label=name)[0]
        if chosen and name in chosen:
            xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            c = chosen[name]
            ax.plot([c], [np.interp(c, xs, ys)], "o", ms=8, color=line.get_color(), mfc="white")
    if not curves:
        ax.text(
            0.5,
            0.5,
            "no savings curve computed (solver.savings_curve_points = 0\nor nothing bought now)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("committed amount (share of the plan's choice)")
    ax.set_ylabel("expected savings vs on-demand (USD)")
    ax.set_title("Savings curve per commitment family")
    if curves:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def utilisation_distribution(per_purchase: Mapping[str, Sequence[float]]) -> bytes:
    """Box plots of each purchase's utilisation (%) across scenarios."""
    names = list(per_purchase)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4.2))
    if names:
        ax.boxplot([np.asarray(per_purchase[n], dtype=float) for n in names], whis=(10, 90))
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("utilisation across scenarios (%)")
    ax.set_title("Utilisation of each purchase (whiskers: P10–P90)")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def cost_by_provider(costs: Mapping[str, Mapping[str, float]]) -> bytes:
    """Stacked bars: expected cost (USD) per provider, split by component."""
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
    ax.set_ylabel("expected cost over the horizon (USD)")
    ax.set_title("Cost by provider")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)
