"""``planner plan``: the quarterly planning run, from usage + inventory + policy to a reviewed
purchase list with purchases.csv, plan.json, report.html and chart PNGs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from planner.inventory import inventory_frame
from planner.plan import Plan
from planner.policy_file import PlanningConfig, apply_overrides, config_to_doc, read_policy_file
from planner.report.render import render_frame
from planner.workflows.quarterly import PlanRun, quarterly_plan
from planner.workflows.serverless import summary_lines as serverless_summary_lines
from pricing_data.fileio import atomic_write_bytes


def planning_options(f: Callable[..., Any], set_flag: str = "--set") -> Callable[..., Any]:
    """Options shared by plan and whatif: inputs and the common policy overrides (``set_flag``
    names the baseline override option: ``--set`` for plan, ``--base-set`` for whatif)."""
    options = [
        click.argument("usage", type=click.Path(dir_okay=False)),
        click.option(
            "--inventory",
            type=click.Path(dir_okay=False),
            default=None,
            help="Existing commitments (inventory CSV).",
        ),
        click.option(
            "--policy",
            "policy_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Policy file (TOML); see `planner policy init`.",
        ),
        click.option(
            set_flag,
            "overrides",
            multiple=True,
            help="Override a policy key: section.key=value (repeatable).",
        ),
        click.option(
            "--scenarios",
            type=click.IntRange(1, 2000),
            default=None,
            help="Demand scenarios (overrides the policy).",
        ),
        click.option("--seed", type=int, default=None, help="Random seed (overrides the policy)."),
        click.option(
            "--horizon",
            default=None,
            help="Planning horizon, e.g. 12mo or 3y (overrides the policy).",
        ),
        click.option(
            "--overlay",
            type=click.Path(dir_okay=False),
            default=None,
            help="Price overlay (CSV/TOML).",
        ),
        click.option(
            "--as-of", "as_of", default=None, help="Use price catalogs dated on or before this day."
        ),
    ]
    return functools.reduce(lambda acc, opt: opt(acc), reversed(options), f)


def load_config(
    policy_file: str | None,
    overrides: tuple[str, ...],
    scenarios: int | None,
    seed: int | None,
    horizon: str | None,
    overlay: str | None,
    as_of: str | None,
) -> PlanningConfig:
    """The policy file, then --set overrides, then the dedicated flags (which win)."""
    flags = list(overrides)
    if scenarios is not None:
        flags.append(f"planning.scenarios={scenarios}")
    if seed is not None:
        flags.append(f"planning.seed={seed}")
    if horizon is not None:
        flags.append(f"horizon={horizon}")
    cfg = apply_overrides(read_policy_file(policy_file), flags, source="flags")
    if overlay is not None:
        cfg = replace(cfg, overlay=overlay)
    if as_of is not None:
        cfg = replace(cfg, catalog_as_of=as_of)
    return cfg


def stderr_progress(msg: str) -> None:
    click.echo(f"· {msg}", err=True)


def plan_with_run_record(run: PlanRun) -> Plan:
    """The plan, its record extended with what the run used (files, config, comparison)."""
    record = dict(run.plan.record)
    record["run"] = {
        "usage_file": run.usage_file,
        "inventory_file": run.inventory_file,
        "config": run.config.to_dict(),
        "policy_doc": config_to_doc(run.config),
        "inventory": inventory_frame(list(run.inventory)).to_dict(orient="records"),
        "effective_policy": run.policy.to_dict(),
        "catalog_versions": list(run.catalog.versions),
        "overlay": run.catalog.overlay,
        "forecast_models": run.forecast.models,
        "comparison": run.comparison_frame().to_dict(orient="records"),
        "upfront_now_usd": run.upfront_now_usd(),
    }
    return replace(run.plan, record=record)


def summary_text(run: PlanRun) -> str:
    """The terminal summary: what to buy now, and how the plan compares."""
    plan = run.plan
    firm = plan.purchases_frame()
    firm = firm[[p.firm for p in plan.purchases]]
    cols = [
        "purchase_id",
        "provider",
        "purchase_model",
        "sku",
        "gpu_type",
        "term_months",
        "payment_option",
        "quantity",
        "hourly_commitment_usd",
        "upfront_usd",
        "expected_utilization_pct",
        "p10_utilization_pct",
        "expected_savings_usd",
    ]
    out = [f"Buy now ({len(firm)} purchases, starting {run.start.date()}):"]
    out.append(render_frame(firm[cols], "table", floatfmt=".2f") if len(firm) else "  nothing\n")
    ladder = len(plan.purchases) - len(firm)
    if ladder:
        out.append(
            f"Tentative ladder: {ladder} later purchases (see purchases.csv; only 'now' is firm).\n"
        )
    comp = run.comparison_frame()
    out.append("Expected cost over the horizon (evaluator, mean over scenarios):")
    out.append(render_frame(comp, "table", floatfmt=",.2f"))
    out.append(f"Upfront cash needed now: ${run.upfront_now_usd():,.2f}\n")
    out.extend(serverless_summary_lines(run))  # scale-to-zero pools and unit costs
    expiring = run.expiring_inventory()
    if len(expiring):
        out.append("Existing commitments expiring inside the horizon:")
        out.append(render_frame(expiring, "table"))
    rec = plan.record
    out.append(
        f"solver {rec.get('solver')} ({rec.get('method')}), status {rec.get('status')}, "
        f"{rec.get('solve_time_s')} s; catalogs: {', '.join(run.catalog.versions)}\n"
    )
    return "\n".join(out)


@click.command("plan")
@planning_options
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    default="plan-out",
    show_default=True,
    help="Where to write the outputs.",
)
@click.option("--no-report", is_flag=True, help="Skip report.html and the charts.")
def plan(
    usage: str,
    inventory: str | None,
    policy_file: str | None,
    overrides: tuple[str, ...],
    scenarios: int | None,
    seed: int | None,
    horizon: str | None,
    overlay: str | None,
    as_of: str | None,
    out_dir: str,
    no_report: bool,
) -> None:
    """The quarterly planning run: forecast USAGE, choose commitments jointly across AWS, CoreWeave
    and Lambda within the policy's risk bounds, and write purchases.csv, plan.json, report.html and
    chart PNGs to --out-dir. Progress goes to stderr, the summary to stdout."""
    cfg = load_config(policy_file, overrides, scenarios, seed, horizon, overlay, as_of)
    run = quarterly_plan(usage, config=cfg, inventory_path=inventory, progress=stderr_progress)
    out = Path(out_dir)
    full = plan_with_run_record(run)
    # everything is rendered in memory first, so a failure leaves no mix of old and new files
    files: dict[str, bytes] = {
        "purchases.csv": render_frame(full.purchases_frame(), "csv").encode("utf-8"),
        "plan.json": full.to_json().encode("utf-8"),
        "comparison.csv": render_frame(run.comparison_frame(), "csv").encode("utf-8"),
    }
    if not no_report:
        from planner.report.plan_report import render_report

        files.update(render_report(run, progress=stderr_progress))
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    click.echo(summary_text(run), nl=False)
    click.echo(
        f"wrote {out}/purchases.csv, plan.json, comparison.csv"
        + ("" if no_report else ", report.html and charts")
    )
