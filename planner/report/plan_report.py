"""The quarterly run's report: chart PNGs and one self-contained HTML file.

Charts: the demand fan (history, P10–P90 of total demand, P50) with the expected GPUs served by each
layer stacked (existing inventory, new RIs, new Savings Plans, new contracts, spot, on-demand: the
evaluator's hour-by-hour dispatch), the savings curve per commitment family, the utilisation of each
purchase across scenarios (from the evaluator), and this plan's expected cost by provider.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from planner.evaluate.bill import spot_availability
from planner.evaluate.compare import THIS_PLAN
from planner.plan import Plan
from planner.purchase_values import price_basis
from planner.report import charts
from planner.report.cashflow import run_cashflow
from planner.report.headline import amount_text, headline_sentences
from planner.report.html import Section, cards, document, esc, image, table
from planner.report.labels import header, humanize, number, pct, usd, value
from planner.report.serverless_section import serverless_sections
from planner.workflows.quarterly import PlanRun
from pricing_data.fileio import atomic_write_bytes
from pricing_data.stats import weighted_quantile

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


def fan_period(timestamps: pd.DatetimeIndex) -> str:
    """Daily means for a window up to four months, weekly beyond (readable at a glance)."""
    days = (timestamps[-1] - timestamps[0]) / pd.Timedelta(days=1) if len(timestamps) else 0
    return "D" if days <= 122 else "W"


def _aggregate(timestamps: pd.DatetimeIndex, period: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    tz = timestamps.tz
    naive = timestamps.tz_convert("UTC").tz_localize(None) if tz is not None else timestamps
    keys = naive.floor("D") if period == "D" else naive.to_period("W").start_time
    codes, index = pd.factorize(pd.DatetimeIndex(keys))
    out = pd.DatetimeIndex(index)
    return codes, out.tz_localize("UTC").tz_convert(tz) if tz is not None else out


def savings_curve_inputs(
    plan: Plan,
) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, float], dict[str, str]]:
    """Curves (amount, saving), the plan's chosen amount and the amount's unit per family; points
    without a saving (infeasible or timed out) are left out, and a family with none is not drawn."""
    curves: dict[str, tuple[list[float], list[float]]] = {}
    chosen: dict[str, float] = {}
    units: dict[str, str] = {}
    for family, points in plan.savings_curves.items():
        # A point the bounds made infeasible, or that ran out of time, has no saving; the report's
        # solver section names it. The curve is drawn through the points that solved.
        points = [p for p in points if p.get("expected_savings_usd") is not None]
        if not points:
            continue
        model, gpu, region = [*family.split("|"), "", "", ""][:3]
        name = f"{value(model)}, {gpu if gpu != 'any' else 'any GPU'}, {region}"
        xs = [float(p["amount"]) for p in points]
        ys = [float(p["expected_savings_usd"]) for p in points]
        marked = [float(p["amount"]) for p in points if p.get("chosen")]
        chosen[name] = marked[0] if marked else max(xs) / 2  # older plans: grid to twice it
        curves[name] = (xs, ys)
        unit = str(points[0].get("unit", ""))
        units[name] = "USD per hour committed now" if unit == "usd_per_hour" else "GPUs bought now"
    return curves, chosen, units


def unsolved_curve_points_note(plan: Plan) -> str:
    """A sentence naming the savings-curve points that did not solve (escaped), or ''."""
    missing = [
        f"{value(family.split('|')[0])} at {float(p['amount']):,.1f} ({p.get('status', 'unknown')})"
        for family, points in plan.savings_curves.items()
        for p in points
        if p.get("expected_savings_usd") is None
    ]
    if not missing:
        return ""
    return esc(
        f" {len(missing)} point(s) did not solve and are not drawn: " + "; ".join(missing) + "."
    )


def utilisation_inputs(
    run: PlanRun,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, float], dict[str, float]]:
    """Per purchase: utilisation (%) in each path its value was computed on, and the mean, P10
    and P90 with the paths' probabilities: the figures and statistics of purchases.csv (the
    valuation's record; a plan without one, this plan's bill in the comparison)."""
    valuation = run.plan.record.get("purchase_valuation", {})
    by_path = valuation.get("utilization_by_path")
    ids = [p.commitment.commitment_id for p in run.plan.purchases]
    if isinstance(by_path, dict) and all(cid in by_path for cid in ids):
        probs = np.asarray(valuation["probabilities"], dtype=float)
        shares = {cid: np.asarray(by_path[cid], dtype=float) for cid in ids}
    else:
        fig = run.strategy(THIS_PLAN)
        probs = fig.probabilities
        shares = {
            cid: np.array([e.commitment_utilization.get(cid, 0.0) for e in fig.evaluations])
            for cid in ids
        }
    per: dict[str, np.ndarray] = {}
    mean: dict[str, float] = {}
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for cid in ids:
        v = 100 * shares[cid]
        per[cid] = v
        mean[cid] = float(probs @ v)
        low[cid] = weighted_quantile(v, probs, 0.1)
        high[cid] = weighted_quantile(v, probs, 0.9)
    return per, mean, low, high


def make_charts(run: PlanRun) -> dict[str, bytes]:
    sc = run.forecast.scenarios
    # daily or weekly means keep the chart readable: hourly paths would paint the band solid
    period = fan_period(sc.timestamps)
    codes, index = _aggregate(sc.timestamps, period)
    counts = np.bincount(codes)

    def mean_by(values: np.ndarray) -> np.ndarray:  # (hours,) or (scenarios, hours) -> periods
        if values.ndim == 1:
            return np.bincount(codes, weights=values, minlength=len(index)) / counts
        return (
            np.stack([np.bincount(codes, weights=row, minlength=len(index)) for row in values])
            / counts
        )

    # a partial first or last week (a few hours) would read as a spike: left out
    whole = counts >= 0.5 * counts.max()
    total = mean_by(sc.demand_gpus.sum(axis=2))[:, whole]  # scenario x period
    q = np.quantile(total, [0.1, 0.5, 0.9], axis=0)
    hist_hourly = run.pooled.demand_gpus.sum(axis=1)
    h_codes, h_index = _aggregate(pd.DatetimeIndex(hist_hourly.index), period)
    h_counts = np.bincount(h_codes)
    hist = pd.Series(
        np.bincount(h_codes, weights=hist_hourly.to_numpy(float)) / h_counts, index=h_index
    )[h_counts >= 0.5 * h_counts.max()]
    layers = {k: mean_by(v)[whole] for k, v in served_layers(run).items()}
    word = "daily" if period == "D" else "weekly"
    fan = charts.demand_fan_with_layers(
        pd.DatetimeIndex(hist.index),
        hist.to_numpy(float),
        index[whole],
        q[0],
        q[1],
        q[2],
        layers,
        title=f"Total GPU demand ({word} mean): history, forecast P10–P90 and median, "
        "and the expected GPUs served by each layer",
    )
    curves, chosen, units = savings_curve_inputs(run.plan)
    per, mean, low, high = utilisation_inputs(run)
    return {
        "demand_fan": fan,
        "savings_curves": charts.savings_curves(curves, chosen=chosen, units=units),
        "utilization": charts.utilisation_distribution(per, mean=mean, low=low, high=high),
        "cost_by_provider": charts.cost_by_provider(_by_provider(run)),
    }


def _by_provider(run: PlanRun) -> dict[str, dict[str, float]]:
    """Expected cost of this plan per provider (the evaluator's split)."""
    fig = run.strategy(THIS_PLAN)
    return {str(value(p)): {"cost": v} for p, v in fig.cost_by_provider().items()}


def assumed_prices_frame(run: PlanRun) -> pd.DataFrame:
    """Every assumed price the firm purchases rest on: one row per firm purchase whose price basis
    is assumed, with its rates, the assumption and its share of the firm obligation."""
    firm = run.plan.firm
    total = sum(p.term_obligation_usd for p in firm)
    pools = run.forecast.scenarios.pools
    rows = []
    for p in firm:
        basis = price_basis(p.commitment, run.catalog.offers, pools)
        if basis.basis != "assumed":
            continue
        lo, hi = basis.usd_per_gpu_hour_min, basis.usd_per_gpu_hour_max
        rate = f"${lo:,.3f}" if math.isclose(lo, hi) else f"${lo:,.3f}–${hi:,.3f}"
        rows.append(
            {
                "Purchase": p.commitment.commitment_id,
                "What": f"{value(p.commitment.purchase_model)} {p.commitment.sku or '(any)'}"
                f" {p.commitment.region}".rstrip(),
                "Price ($ per GPU-hour)": rate
                + (f" ({basis.n_prices} SKU rates)" if basis.n_prices > 1 else ""),
                "Assumption": "; ".join(basis.assumptions),
                "Share of firm obligation": pct(
                    p.term_obligation_usd / total if total else 0.0, share=True
                ),
            }
        )
    return pd.DataFrame(rows)


def serving_assumptions_frame(run: PlanRun) -> pd.DataFrame:
    """Assumed spot prices behind the serving costs, with the rule used."""
    offers = run.catalog.offers
    gpu_types = {p.gpu_type for p in run.forecast.scenarios.pools}
    spot = offers[
        (offers["purchase_model"] == "spot")
        & offers["assumed"]
        & offers["gpu_type"].isin(gpu_types)
    ]
    rules = spot[["provider", "assumption"]].drop_duplicates()
    rules = rules.assign(provider=rules["provider"].map(value))
    return rules.rename(columns={"provider": "Provider", "assumption": "Assumption"}).reset_index(
        drop=True
    )


def _kv_html(items: Mapping[str, object]) -> str:
    """A key/value table whose nested values are tables too (no Python reprs)."""
    rows = []
    for k, v in items.items():
        if isinstance(v, Mapping):
            cell = _kv_html(v)
        elif isinstance(v, list | tuple):
            cell = esc(", ".join(str(value(x)) if isinstance(x, str) else number(x) for x in v))
        else:
            cell = esc(number(v))
        rows.append(f"<tr><th>{esc(header(str(k)))}</th><td>{cell}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def decision_html(plan: Plan) -> str:
    """The first screen: the decision in words and numbers, then the firm purchases."""
    h = plan.headline
    paras = "".join(
        f'<p class="lead"><b>{esc(label)}.</b> {esc(text)}</p>'
        for label, text in headline_sentences(plan)
    )
    figures = []
    if h:
        figures = [
            ("buy now", f"{h['firm_purchases']} commitments"),
            ("upfront", usd(h["upfront_usd"])),
            ("per month", usd(h["recurring_monthly_usd"])),
            ("term obligation", usd(h["term_obligation_usd"])),
            ("saving vs on-demand", usd(h["savings_vs_on_demand_usd"])),
            ("saving vs on-demand, NPV", usd(h["savings_vs_on_demand_npv_usd"])),
            ("saving vs current inventory", usd(h["savings_vs_inventory_usd"])),
            ("worst-decile utilisation", pct(h["tail_utilization"], share=True)),
        ]
    return f'<div class="decision">{paras}{cards(figures)}</div>'


def purchases_view(plan: Plan, *, firm: bool) -> pd.DataFrame:
    """The purchases as a buyer reads them: one line each, amounts in their units, money in $."""
    rows = []
    for p in plan.purchases:
        if p.firm != firm:
            continue
        c = p.commitment
        kind = str(value(c.purchase_model))
        if c.purchase_model == "reserved_instance" and c.offering_class:
            kind += f" ({c.offering_class})"
        rows.append(
            {
                "Purchase": c.commitment_id,
                "What": f"{value(c.provider)} {kind}",
                "SKU, region": ", ".join(x for x in (c.sku, c.region) if x) or "any",
                "GPU": p.gpu_type or "any",
                "Term": f"{c.term_months} mo from {c.start.date()}",
                "Payment": value(c.payment_option),
                "Amount": amount_text(p),
                "Upfront": usd(p.upfront_usd),
                "Monthly": usd(p.recurring_monthly_usd),
                "Term obligation (NPV)": f"{usd(p.term_obligation_usd)} ({usd(p.npv_cost_usd)})",
                "Price basis": p.price_basis or "–",
                "Use: mean / worst 10%": f"{pct(p.expected_utilization, share=True)} / "
                f"{pct(p.p10_utilization, share=True)}",
                "Marginal saving (NPV)": f"{usd(p.expected_savings_usd)} ({usd(p.npv_savings_usd)})",
                "Break-even": "never in the term"
                if p.breakeven_months is None
                else f"{p.breakeven_months:.1f} months",
                "Required by": p.required_by or "–",
            }
        )
    return pd.DataFrame(rows)


def purchases_html(plan: Plan, *, firm: bool) -> str:
    df = purchases_view(plan, firm=firm)
    if df.empty:
        return "<p>None.</p>"
    if (df["Required by"] == "–").all():
        df = df.drop(columns=["Required by"])
    return table(df)


def cashflow_html(cf: pd.DataFrame) -> str:
    """The schedule by quarter (the monthly rows are in cashflow.csv)."""
    q = cf.copy()
    q["quarter"] = pd.PeriodIndex(q["month"], freq="M").asfreq("Q").astype(str)
    money = [c for c in cf.columns if c.endswith("_usd")]
    agg = q.groupby("quarter", sort=True)[money].sum(min_count=1).reset_index()
    agg["cumulative_new_commitments_usd"] = agg["new_commitments_usd"].cumsum()
    return table(humanize(agg))


def components_frame(run: PlanRun) -> pd.DataFrame:
    """Expected cost by component (spot apart) for each strategy to the end of every term (the valuation horizon)."""
    rows = []
    for strat in run.strategies:
        comp = strat.cost_by_component()
        row: dict[str, object] = {"Strategy": strat.name}
        for key, label in (
            ("commitments", "RIs and Savings Plans ($)"),
            ("contracts", "Reserved contracts ($)"),
            ("on_demand", "On-demand ($)"),
            ("spot", "Spot ($)"),
            ("egress", "Egress ($)"),
            ("serverless", "Serverless ($)"),
        ):
            row[label] = round(comp.get(key, 0.0), 2)
        row["Total ($)"] = round(strat.expected_cost_usd, 2)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "Serverless ($)" in frame and not (frame["Serverless ($)"] != 0).any():
        frame = frame.drop(columns=["Serverless ($)"])  # only when some strategy used serverless
    return frame


def build_html(run: PlanRun, pngs: dict[str, bytes]) -> str:
    plan = run.plan
    h = plan.headline
    comp = run.comparison_frame()
    firm_note = ""
    if h and plan.firm:
        firm_note = (
            "<p class=sub>Marginal saving: what each purchase adds to the plan (the plan's "
            "expected cash to the end of every term without it minus with it, on the evaluator; "
            "NPV beside it). Purchases that could "
            "serve the same demand substitute for each other, so the per-purchase values need "
            f"not sum to the total: here they sum to {usd(h['sum_of_marginal_savings_usd'])} "
            f"against a joint saving of {usd(h['savings_vs_on_demand_usd'])} over all "
            "on-demand.</p>"
        )
    dropped = plan.record.get("purchase_valuation", {}).get("dropped", [])
    dropped_html = (
        table(pd.DataFrame(dropped).rename(columns={"purchase": "Purchase", "reason": "Why not"}))
        if dropped
        else "<p>Every purchase the optimizer chose is recommended.</p>"
    )
    cf = run_cashflow(run)
    assumed = assumed_prices_frame(run)
    serving = serving_assumptions_frame(run)
    notes = (
        (
            '<p class="note"><span class="assumed">Assumed prices behind the firm purchases.</span> '
            "These are not published prices; replace them with an overlay of your negotiated "
            "rates or a fresh catalog before buying.</p>" + table(assumed)
        )
        if len(assumed)
        else "<p>No firm purchase rests on an assumed price.</p>"
    )
    if len(serving):
        notes += "<p>Assumed spot prices used to serve interruptible demand:</p>" + table(serving)
    caps = spot_availability(run.catalog.offers, run.forecast.scenarios.pools, run.policy)
    if len(caps):
        notes += (
            '<p><span class="assumed">Assumed spot availability.</span> The most of each pool\'s '
            "demand counted on finding spot capacity: from the spot offer's interruption band "
            "(pricing_data/assumptions.toml: 0.5 for &lt;5% down to 0.1 for &gt;20%), at most the "
            "policy's spot.cap_share, unless a [[pools]] rule sets spot_cap_share. An "
            "assumption, not a published figure.</p>" + table(humanize(caps))
        )
    expiring = run.expiring_inventory()
    expiring_html = (
        table(humanize(expiring))
        if len(expiring)
        else "<p>No existing commitment expires inside the forecast window.</p>"
    )
    metrics = run.forecast.metrics
    fc_cols = [c for c in ("pool", "model", "mase", "rel_mae", "mae_gpus") if c in metrics.columns]
    rec = plan.record
    record: dict[str, object] = {
        "usage file": run.usage_file,
        "inventory file": run.inventory_file or "(none)",
        "policy": run.config.source,
        "catalog versions": ", ".join(rec.get("catalog_versions", []))
        or ", ".join(run.catalog.versions),
        "overlay": run.catalog.overlay or "(none)",
        "solver": f"{rec.get('solver')} {rec.get('method', '')}, status {rec.get('status')}, "
        f"gap {number(rec.get('gap'))}",
        "solve time (s)": rec.get("solve_time_s"),
        "problem size": rec.get("sizes", {}),
        "time reduction": rec.get("time_reduction", {}),
        "purchase valuation": {
            k: v
            for k, v in rec.get("purchase_valuation", {}).items()
            if k not in ("dropped", "probabilities", "utilization_by_path")  # drawn, not listed
        },
        "scenarios / seed": f"{run.config.scenarios} / {run.config.seed}",
        "forecast window": f"{run.start.date()} to {run.end.date()} ({plan.horizon_hours:,} h)",
        "policy values": run.policy.to_dict(),
    }
    sections = [
        Section("The decision", decision_html(plan)),
        Section("Buy now (firm)", purchases_html(plan, firm=True) + firm_note),
        Section(
            "Tentative ladder (not firm: revisit next quarter)",
            purchases_html(plan, firm=False),
        ),
        Section("Not recommended", dropped_html),
        Section(
            "Cash-flow schedule (by quarter; monthly in cashflow.csv)",
            cashflow_html(cf)
            + "<p class=sub>The evaluator's cash, expected over scenarios, to the end of the "
            "last term: upfront in the month a purchase starts, recurring fees and pay-as-you-go "
            "(on-demand, spot, egress) in the month they accrue; existing commitments' remaining "
            "payments (upfronts already paid are sunk). Beyond the forecast, demand follows the "
            "tail model (planner/valuation.py). Totals and NPV are plan.json's whole-term "
            "figures.</p>",
        ),
        Section(
            "Compared with the alternatives (evaluator, mean over scenarios, to the end of every term)",
            table(humanize(comp)),
        ),
        *serverless_sections(run),  # scale-to-zero pools and unit costs, when the run has them
        Section("Expected cost by component (spot apart)", table(components_frame(run))),
        Section(
            "Demand and committed capacity",
            image(pngs["demand_fan"], "demand fan with commitment layers"),
        ),
        Section(
            "Utilisation of each purchase across scenarios",
            image(pngs["utilization"], "utilisation distribution")
            + "<p class=sub>The evaluator's utilisation over the forecast window, the same "
            "scenarios and statistics as purchases.csv (mean: diamond; worst 10%: the lower "
            "whisker).</p>",
        ),
        Section(
            "Savings curves",
            image(pngs["savings_curves"], "savings curves")
            + "<p class=sub>Expected saving over all on-demand (LP estimate, undiscounted, over "
            "the whole valuation horizon) when one family's commitment bought now is set to the "
            "amount on the x axis and everything else is re-optimised; the ring marks the plan's "
            f"choice.{unsolved_curve_points_note(run.plan)}</p>",
        ),
        Section("Cost by provider", image(pngs["cost_by_provider"], "cost by provider")),
        Section("Existing commitments expiring in the forecast window", expiring_html),
        Section(
            "Forecast", table(humanize(metrics[fc_cols])) if fc_cols else "<p>(no metrics)</p>"
        ),
        *backtest_sections(rec),
        Section("Assumptions", notes),
        Section("Run record", _kv_html(record)),
    ]
    title = "GPU commitment plan"
    subtitle = (
        f"Planning from {run.start.date()} for {run.policy.horizon_months} months — "
        f"{Path(run.usage_file).name}"
    )
    return document(title, subtitle, sections)


def backtest_sections(rec: dict[str, object]) -> list[Section]:
    """The sizing rule per pool and the price of safety (planner.backtest.sizing / .safety)."""
    from planner.backtest.safety import safety_frame
    from planner.backtest.sizing import sizing_frame

    sizing, safety = sizing_frame(rec), safety_frame(rec)
    sizing_rec = rec.get("sizing")
    note = sizing_rec.get("method", "") if isinstance(sizing_rec, dict) else ""
    fallback = rec.get("sizing_fallback")
    if fallback:
        # the chosen rules' plan could not hold the bounds on the forecast's scenarios
        note += (
            f"</p><p><b>Not used for this plan:</b> sized instead as {esc(str(fallback))}"
            " (the plan sized on these rules breached a risk bound on the forecast's scenarios;"
            " the note in the run record says by how much)."
        )
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
