"""Helpers for the hostile-input catalogue: run the CLI, and prove that nothing on disk changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner, Result

from planner.cli import cli

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
USAGE = EXAMPLES / "usage.csv"
INVENTORY = EXAMPLES / "inventory.csv"
BILLING = ROOT / "tests" / "data" / "billing" / "gpu-fixtures"


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the hash of its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_usage_error(r: Result, *needles: str) -> None:
    """Exit code 2, one ``Error:`` message containing every needle, and no traceback."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    assert sum(line.startswith("Error:") for line in r.output.splitlines()) == 1, r.output
    for n in needles:
        assert n in r.output, (n, r.output)


def small_usage(path: Path, rows: list[str], header: str = "timestamp,gpu_type,gpus") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def hourly_rows(n: int, gpus: float = 8.0, gpu_type: str = "H100", extra: str = "") -> list[str]:
    import pandas as pd

    hours = pd.date_range("2025-01-01", periods=n, freq="h", tz="UTC")
    return [f"{h.strftime('%Y-%m-%dT%H:%M:%SZ')},{gpu_type},{gpus}{extra}" for h in hours]
