"""The quarterly run's report: chart PNGs and one self-contained HTML file.

Charts: the demand fan (history, P10–P90 of total demand, P50) with the expected GPUs served by each
layer stacked (existing inventory, new RIs, new Savings Plans, new contracts, spot, on-demand: the
evaluator's hour-by-hour dispatch), the savings curve per commitment family, the utilisation of each
purchase across scenarios (from the evaluator), and this plan's expected cost by provider.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from planner.evaluate.compare import ALL_ON_DEMAND, INVENTORY_ONLY, THIS_PLAN
from planner.report import charts
from planner.report.html import Section, cards, document, image, key_values, table
from planner.report.serverless_section import serverless_sections
from planner.workflows.quarterly import PlanRun
from pricing_data.fileio import atomic_write_bytes

CHART_FILES = {
    "demand_fan": "demand_fan.png",
    "savings_curves": "savings_curves.png",
    "utilization": "utilization.png",
    "cost_by_provider": "cost_by_provider.png",
}


def served_layers(run: PlanRun, max_scenarios: int = 40) -> dict[str, np.ndarray]:
    """Expected GPUs served per forecast hour by layer: existing commitments, new RIs, Savings
    Plans and contracts, spot and on-demand (the evaluator, ``detail=True``, averaged over up to
    ``max_scenarios`` scenarios with their probabilities renormalised). The layers sum to the
    expected demand of those scenarios."""
    from planner.evaluate import evaluate
    from planner.evaluate.serverless import plan_serverless

    sc = run.forecast.scenarios
    n = min(sc.n_scenarios, max_scenarios)
    w = sc.probabilities[:n] / sc.probabilities[:n].sum()
    existing = {c.commitment_id for c in run.inventory}
    model_of = {p.commitment.commitment_id: p.commitment.purchase_model for p in run.plan.purchases}
    commitments = [*run.inventory, *run.plan.commitments()]
    layers: dict[str, np.ndarray] = {}
    for s in range(n):
        ev = evaluate(
            commitments,
            sc.demand_gpus[s],
            sc.timestamps,
            sc.pools,
            run.catalog.offers,
            run.policy,
            detail=True,
            serverless=plan_serverless(run.plan, None),  # the plan's scale-to-zero decisions
        )
        for key, gpus in ev.served_gpus.items():
            name = "existing" if key in existing else model_of.get(key, key)
            layers[name] = layers.get(name, np.zeros(sc.n_hours)) + w[s] * gpus
    order = [
        "existing",
        "reserved_instance",
        "ec2_instance_savings_plan",
        "compute_savings_plan",
        "reserved_contract",
        "spot",
        "serverless",
        "on_demand",
    ]
    return {k: layers[k] for k in order if k in layers}


def make_charts(run: PlanRun) -> dict[str, bytes]:
    sc = run.forecast.scenarios
    # daily means keep the chart readable: hourly paths would paint the band solid
    days = sc.timestamps.floor("D")
    codes, day_index = pd.factorize(days)
    counts = np.bincount(codes)

    def daily(values: np.ndarray) -> np.ndarray:  # (hours,) or (scenarios, hours) -> days
        if values.ndim == 1:
            return np.bincount(codes, weights=values, minlength=len(day_index)) / counts
        return (
            np.stack([np.bincount(codes, weights=row, minlength=len(day_index)) for row in values])
            / counts
        )

    total = daily(sc.demand_gpus.sum(axis=2))  # scenario x day
    q = np.quantile(total, [0.1, 0.5, 0.9], axis=0)
    hist = run.pooled.demand_gpus.sum(axis=1).resample("D").mean()
    layers = {k: daily(v) for k, v in served_layers(run).items()}
    fan = charts.demand_fan_with_layers(
        pd.DatetimeIndex(hist.index),
        hist.to_numpy(float),
        pd.DatetimeIndex(day_index),
        q[0],
        q[1],
        q[2],
        layers,
        title="Total GPU demand (daily mean, P10–P90) and the expected GPUs served by each layer",
    )
    curves = {}
    for family, points in run.plan.savings_curves.items():
        amounts = [float(p["amount"]) for p in points]
        chosen = max(amounts) / 2 if amounts else 0.0  # the grid runs from 0 to twice the optimum
        if chosen <= 0:
            continue
        xs = [a / chosen for a in amounts]
        ys = [float(p["expected_savings_usd"]) for p in points]
        curves[family.replace("|", " ")] = (xs, ys)
    plan_fig = run.strategy(THIS_PLAN)
    util = {
        cid: 100 * v[np.isfinite(v)]
        for cid, v in plan_fig.utilization_by_commitment().items()
        if cid in {p.commitment.commitment_id for p in run.plan.purchases}
    }
    return {
        "demand_fan": fan,
        "savings_curves": charts.savings_curves(curves, chosen={k: 1.0 for k in curves}),
        "utilization": charts.utilisation_distribution(util),
        "cost_by_provider": charts.cost_by_provider(_by_provider(run)),
    }


def _by_provider(run: PlanRun) -> dict[str, dict[str, float]]:
    """Expected cost of this plan per provider (the evaluator's split)."""
    fig = run.strategy(THIS_PLAN)
    return {p: {"cost": v} for p, v in fig.cost_by_provider().items()}


def _pct(v: object) -> str:
    """A percentage, or a dash where there is none (no commitment, so no utilisation)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{float(v):.1f}%"  # type: ignore[arg-type]


def _usd(v: float) -> str:
    return f"${v:,.0f}"


def assumptions_frame(run: PlanRun) -> pd.DataFrame:
    """Assumed prices behind the plan's purchases and serving prices, with the rule used."""
    offers = run.catalog.offers
    ids = {p.commitment.offer_id for p in run.plan.purchases if p.commitment.offer_id}
    used = offers[offers["offer_id"].isin(ids) & offers["assumed"]]
    gpu_types = {p.gpu_type for p in run.forecast.scenarios.pools}
    spot = offers[
        (offers["purchase_model"] == "spot")
        & offers["assumed"]
        & offers["gpu_type"].isin(gpu_types)
    ]
    rules = pd.concat([used, spot])[["purchase_model", "provider", "assumption"]].drop_duplicates()
    return rules.reset_index(drop=True)


def build_html(run: PlanRun, pngs: dict[str, bytes]) -> str:
    plan = run.plan
    comp = run.comparison_frame()
    this = comp[comp["strategy"] == THIS_PLAN].iloc[0]
    od = comp[comp["strategy"] == ALL_ON_DEMAND].iloc[0]
    inv = comp[comp["strategy"] == INVENTORY_ONLY].iloc[0]
    tail_col = next(c for c in comp.columns if c.endswith("_utilization_pct") and c.startswith("p"))
    summary = cards(
        [
            ("expected annual cost, this plan", _usd(this["annual_cost_usd"])),
            ("all on-demand", _usd(od["annual_cost_usd"])),
            ("current inventory only", _usd(inv["annual_cost_usd"])),
            ("effective savings rate", _pct(this["esr_pct"])),
            ("coverage by commitments", _pct(this["coverage_pct"])),
            ("expected utilisation", _pct(this["utilization_pct"])),
            (f"worst-tail utilisation ({tail_col[:3].upper()})", _pct(this[tail_col])),
            ("upfront cash needed now", _usd(run.upfront_now_usd())),
        ]
    )
    firm = plan.purchases_frame()
    firm.insert(
        1, "when", ["now (firm)" if p.firm else "ladder (tentative)" for p in plan.purchases]
    )
    assumed = assumptions_frame(run)
    notes = ""
    if len(assumed):
        notes = (
            '<p class="note"><span class="assumed">Assumed prices.</span> Some prices behind this plan are '
            "labelled assumptions, not published prices; replace them with an overlay of your negotiated "
            "rates or `planner prices refresh --provider aws`.</p>" + table(assumed)
        )
    expiring = run.expiring_inventory()
    expiring_html = (
        table(expiring)
        if len(expiring)
        else "<p>No existing commitment expires inside the horizon.</p>"
    )
    metrics = run.forecast.metrics
    fc_cols = [c for c in ("pool", "model", "mase", "rel_mae", "mae_gpus") if c in metrics.columns]
    rec = plan.record
    record = {
        "usage file": run.usage_file,
        "inventory file": run.inventory_file or "(none)",
        "policy": run.config.source,
        "catalog versions": ", ".join(rec.get("catalog_versions", []))
        or ", ".join(run.catalog.versions),
        "overlay": run.catalog.overlay or "(none)",
        "solver": f"{rec.get('solver')} {rec.get('method', '')}, status {rec.get('status')}, gap {rec.get('gap')}",
        "solve time (s)": rec.get("solve_time_s"),
        "problem size": rec.get("sizes"),
        "time reduction": rec.get("time_reduction"),
        "scenarios / seed": f"{run.config.scenarios} / {run.config.seed}",
        "horizon": f"{run.start.date()} to {run.end.date()} ({plan.horizon_hours:,} h)",
        "policy values": run.policy.to_dict(),
    }
    sections = [
        Section("Summary", summary),
        Section("Compared with the alternatives (evaluator, mean over scenarios)", table(comp)),
        *serverless_sections(run),  # scale-to-zero pools and unit costs, when the run has them
        Section("Purchases", table(firm)),
        Section(
            "Demand and committed capacity",
            image(pngs["demand_fan"], "demand fan with commitment layers"),
        ),
        Section(
            "Utilisation of each purchase across scenarios",
            image(pngs["utilization"], "utilisation distribution"),
        ),
        Section(
            "Savings curves",
            image(pngs["savings_curves"], "savings curves")
            + "<p class=sub>Expected savings when each family's commitment is scaled around the plan's choice "
            "(1.0 = the plan). A flat top means the exact amount matters little.</p>",
        ),
        Section("Cost by provider", image(pngs["cost_by_provider"], "cost by provider")),
        Section("Existing commitments expiring in the horizon", expiring_html),
        Section("Forecast", table(metrics[fc_cols]) if fc_cols else "<p>(no metrics)</p>"),
        *backtest_sections(rec),
        Section("Assumptions", notes or "<p>No assumed price is behind this plan.</p>"),
        Section("Run record", key_values(record)),
    ]
    title = "GPU commitment plan"
    subtitle = f"Planning from {run.start.date()} for {run.policy.horizon_months} months — {Path(run.usage_file).name}"
    return document(title, subtitle, sections)


def backtest_sections(rec: dict[str, object]) -> list[Section]:
    """The sizing rule per pool and the price of safety (planner.backtest.sizing / .safety)."""
    from planner.backtest.safety import safety_frame
    from planner.backtest.sizing import sizing_frame

    sizing, safety = sizing_frame(rec), safety_frame(rec)
    sizing_rec = rec.get("sizing")
    note = sizing_rec.get("method", "") if isinstance(sizing_rec, dict) else ""
    return [
        Section(
            "Sizing rule per pool (chosen by backtested cost)",
            (table(sizing) + f"<p class=sub>{note}</p>") if len(sizing) else "<p>(not scored)</p>",
        ),
        Section(
            "Price of safety (each risk bound: the plan's expected cost with and without it)",
            table(safety) if len(safety) else "<p>The policy sets no risk bound.</p>",
        ),
    ]


def write_report(
    run: PlanRun, out_dir: Path, progress: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Write the chart PNGs and report.html into ``out_dir`` (atomically); return their paths."""
    return write_rendered(out_dir, render_report(run, progress))


def render_report(run: PlanRun, progress: Callable[[str], None] | None = None) -> dict[str, bytes]:
    """Every report file's name and bytes, built in memory (nothing is written)."""
    say = progress or (lambda _m: None)
    say("drawing charts")
    pngs = make_charts(run)
    files = {CHART_FILES[key]: png for key, png in pngs.items()}
    files["report.html"] = build_html(run, pngs).encode("utf-8")
    return files


def write_rendered(out_dir: Path, files: dict[str, bytes]) -> dict[str, Path]:
    return {name: atomic_write_bytes(out_dir / name, data) for name, data in files.items()}
