"""The output files of a run, and output folders written all or nothing.

:func:`plan_files` renders a run's files in memory; :func:`write_plan_outputs` and
:func:`write_optimize_outputs` write them with :func:`write_output_dir`.

A run renders every output in memory first (``{file name: bytes}``), then:

1. :func:`check_writable_dir` — called *before* the heavy work — makes sure the folder can be
   created and written, so an unusable ``--out-dir`` fails in a second, not after the forecast;
2. :func:`write_output_dir` writes every file into a fresh temporary folder beside the target
   (same file system), then moves them into the target and removes the files of the previous run
   that this run did not write (listed in the previous run's :data:`MANIFEST`, or any file with an
   output name the planner writes, :data:`KNOWN_OUTPUTS`). Files that are not the planner's are
   left alone. When the target does not exist or holds only the planner's files, the move is one
   directory rename (the old folder is renamed aside first and removed after), so a reader sees
   the old outputs or the new ones, never a mix; otherwise (other files in the folder, or a
   read-only parent folder, then the staging folder is inside the target) each file is replaced by
   an atomic rename.

A failure before the move leaves the target untouched and removes the temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from planner.report.cashflow import run_cashflow
from planner.report.render import render_frame
from pricing_data.errors import PlannerInputError

if TYPE_CHECKING:
    from planner.plan import Plan
    from planner.workflows.quarterly import PlanRun

Progress = Callable[[str], None]

#: The list of files the last run wrote into a folder (hidden, JSON).
MANIFEST = ".planner-outputs.json"
#: Every file name a planner run writes into an output folder (old runs may not have a manifest).
KNOWN_OUTPUTS = frozenset(
    {
        "purchases.csv",
        "plan.json",
        "comparison.csv",
        "report.html",
        "demand_fan.png",
        "savings_curves.png",
        "utilization.png",
        "cost_by_provider.png",
        "cash_flows.csv",
        "cash_flow.png",
        "cashflow.csv",
        "forecast.csv",  # planner forecast --out-dir
        "quantiles.csv",
    }
)


def check_writable_dir(path: str | Path, *, option: str = "--out-dir") -> Path:
    """Prove that the folder ``path`` can be written (or created and written); else a usage
    error. Nothing is left behind: a folder that does not exist yet is not created here."""
    target = Path(path)
    existing = target
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            break
        existing = existing.parent
    if not existing.is_dir():
        raise PlannerInputError(
            "the output path is a file, not a folder"
            if existing == target
            else f"{existing} is a file, not a folder",
            file=str(target),
            column=option,
            fix=f"give {option} a folder path",
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".planner-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PlannerInputError(
            f"cannot write to the output folder ({e.strerror or e})",
            file=str(target),
            column=option,
            fix=f"choose a writable {option}, or fix its permissions",
        ) from None
    return target


def check_distinct_outputs(paths: Mapping[str, str | Path | None]) -> None:
    """Two options naming the same output file would overwrite one with the other: refused."""
    seen: dict[str, str] = {}
    for option, p in paths.items():
        if p is None or str(p) == "-":
            continue
        key = os.path.realpath(p)
        if key in seen:
            raise PlannerInputError(
                f"{seen[key]} and {option} name the same file",
                file=str(p),
                column=option,
                fix=f"give {seen[key]} and {option} different paths",
            )
        seen[key] = option


def _previous_outputs(target: Path) -> set[str]:
    names = {p.name for p in target.iterdir() if p.is_file() and p.name in KNOWN_OUTPUTS}
    manifest = target / MANIFEST
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
            names |= {str(n) for n in listed if isinstance(n, str) and "/" not in n}
        except (ValueError, AttributeError, OSError):
            pass
        names.add(MANIFEST)
    return names


def write_output_dir(path: str | Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) into the folder ``path``, all or nothing (module docstring).

    Returns the path of each file written. Raises :class:`PlannerInputError` (exit 2) when the
    folder cannot be written.
    """
    target = Path(path)
    for name in files:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"output file name {name!r} is not a plain file name")
    check_writable_dir(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PlannerInputError(
            f"cannot create the output folder ({e.strerror or e})", file=str(target)
        ) from None
    manifest = json.dumps({"files": sorted(files)}, indent=2) + "\n"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
        beside = True
    except OSError:  # a read-only parent: stage inside the target, then rename file by file
        tmp = Path(tempfile.mkdtemp(prefix=".planner-new-", dir=target))
        beside = False
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        (tmp / MANIFEST).write_text(manifest, encoding="utf-8")
        previous = _previous_outputs(target)
        foreign = [p for p in target.iterdir() if p.name not in previous and p != tmp]
        is_cwd = target.resolve() == Path.cwd().resolve()
        if beside and not foreign and not is_cwd:
            # the folder holds only the planner's files: swap whole folders
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            # every name must be free to replace before the first one moves
            for name in [*files, MANIFEST]:
                if (target / name).is_dir() and not (target / name).is_symlink():
                    raise PlannerInputError(
                        f"{name} in the output folder is a folder; nothing was written",
                        file=str(target / name),
                        fix="remove or rename it, or choose another output folder",
                    )
            for name in [*files, MANIFEST]:
                os.replace(tmp / name, target / name)
            for name in previous - set(files) - {MANIFEST}:
                (target / name).unlink(missing_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PlannerInputError(
            f"cannot write the outputs ({e.strerror or e})",
            file=str(target),
            fix="choose a writable output folder with free space",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {name: target / name for name in files}


def check_writable_file(path: str | Path | None, *, option: str) -> None:
    """Before the work: the file ``path`` (an output option's value) can be written where it is
    named — its folder is writable and it is not itself a folder. ``None`` or ``-`` pass."""
    if path is None or str(path) == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise PlannerInputError(
            "the output path is a folder, not a file",
            file=str(p),
            column=option,
            fix=f"give {option} a file path",
        )
    check_writable_dir(p.parent if str(p.parent) else Path("."), option=option)


def printed_format(fmt: str | None, out_file: str | None, *, formats: tuple[str, ...]) -> str:
    """The format of a command's printed data: ``-o`` when given, else ``--out``'s extension
    (``.csv``, ``.json``), else a table. A known extension that contradicts ``-o`` (``--out
    f.csv -o json``) is refused: the file would not open as named."""
    suffix = Path(out_file).suffix.lower().lstrip(".") if out_file and out_file != "-" else ""
    named = suffix if suffix in formats and suffix != "table" else None
    if fmt is None:
        return named or "table"
    if named and named != fmt:
        raise PlannerInputError(
            f"--out names a .{named} file but -o asks for {fmt}",
            file=out_file,
            column="-o",
            fix=f"name the file with .{'txt' if fmt == 'table' else fmt}, or drop -o",
        )
    return fmt


def plan_files(
    run: PlanRun, *, report: bool = True, progress: Progress | None = None
) -> dict[str, bytes]:
    """Every output file of the run, rendered in memory: purchases.csv, plan.json (with its run
    record), comparison.csv, cashflow.csv and, with ``report``, report.html and the chart PNGs."""
    recorded = run.recorded_plan()
    files: dict[str, bytes] = {
        "purchases.csv": render_frame(recorded.purchases_frame(), "csv").encode("utf-8"),
        "plan.json": recorded.to_json().encode("utf-8"),
        "comparison.csv": render_frame(run.comparison_frame(), "csv").encode("utf-8"),
        "cashflow.csv": render_frame(run_cashflow(run), "csv").encode("utf-8"),
    }
    if report:
        from planner.report.plan_report import render_report  # matplotlib: loaded when drawn

        files.update(render_report(run, progress=progress))
    return files


def write_plan_outputs(
    run: PlanRun, out_dir: str | Path, *, report: bool = True, progress: Progress | None = None
) -> list[Path]:
    """Render every output in memory first, then write them all or nothing into ``out_dir``
    (:func:`write_output_dir`: the previous run's other files are removed)."""
    files = plan_files(run, report=report, progress=progress)
    return list(write_output_dir(out_dir, files).values())


def write_optimize_outputs(plan: Plan, out_dir: str | Path) -> list[Path]:
    """purchases.csv and plan.json, written all or nothing into ``out_dir``."""
    files = {
        "purchases.csv": render_frame(plan.purchases_frame(), "csv").encode("utf-8"),
        "plan.json": plan.to_json().encode("utf-8"),
    }
    return list(write_output_dir(out_dir, files).values())
