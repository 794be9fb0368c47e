"""The output files of a run, rendered in memory first and then written, each atomically, so a
failure while rendering leaves no mix of old and new files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from planner.plan import Plan
from planner.report.render import render_frame
from planner.workflows.quarterly import PlanRun
from pricing_data.fileio import atomic_write_bytes, atomic_write_text

Progress = Callable[[str], None]


def plan_files(
    run: PlanRun, *, report: bool = True, progress: Progress | None = None
) -> dict[str, bytes]:
    """Every output file of the run, rendered in memory: purchases.csv, plan.json (with its run
    record), comparison.csv and, with ``report``, report.html and the chart PNGs."""
    recorded = run.recorded_plan()
    files: dict[str, bytes] = {
        "purchases.csv": render_frame(recorded.purchases_frame(), "csv").encode("utf-8"),
        "plan.json": recorded.to_json().encode("utf-8"),
        "comparison.csv": render_frame(run.comparison_frame(), "csv").encode("utf-8"),
    }
    if report:
        from planner.report.plan_report import render_report  # matplotlib: loaded when drawn

        files.update(render_report(run, progress=progress))
    return files


def write_plan_outputs(
    run: PlanRun, out_dir: str | Path, *, report: bool = True, progress: Progress | None = None
) -> list[Path]:
    """Render every output in memory first, then write each atomically into ``out_dir``, so a
    failure while rendering leaves no mix of old and new files."""
    files = plan_files(run, report=report, progress=progress)
    out = Path(out_dir)
    return [atomic_write_bytes(out / name, data) for name, data in files.items()]


def write_optimize_outputs(plan: Plan, out_dir: str | Path) -> list[Path]:
    """purchases.csv and plan.json, each written atomically into ``out_dir``."""
    out = Path(out_dir)
    return [
        atomic_write_text(out / "purchases.csv", render_frame(plan.purchases_frame(), "csv")),
        atomic_write_text(out / "plan.json", plan.to_json()),
    ]
