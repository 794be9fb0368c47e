"""SIGTERM ends a run like Ctrl-C: one message, exit code 130, no output folder half-written."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.conftest import USAGE


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_run_gives_one_message_and_no_outputs(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out"
    code = "from planner.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "plan", str(USAGE), "--out-dir", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    line = ""
    while time.monotonic() < deadline:  # wait until the run is under way
        line = proc.stderr.readline()
        if "reading usage" in line or not line:
            break
    assert "reading usage" in line, line
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()


def test_an_error_raised_in_place_of_an_interruption_still_reports_the_interruption() -> None:
    """pandas' C reader swallows the KeyboardInterrupt a signal raises inside its read() and raises
    a parser error instead; that run was reported as a bad usage file (exit 2) in CI. Whatever error
    ends a run after a signal must be reported as the interruption (exit 130)."""
    import click
    from click.testing import CliRunner

    from planner import cli as cli_module
    from pricing_data.errors import PlannerInputError

    @click.group(cls=cli_module.PlannerGroup)
    def group() -> None:
        pass

    @group.command()
    def read() -> None:
        with contextlib.suppress(KeyboardInterrupt):  # what the C reader does with it
            cli_module._on_signal(signal.SIGINT, None)
        raise PlannerInputError("cannot read the file: Calling read(nbytes) on source failed")

    @group.command()
    def bad() -> None:
        raise PlannerInputError("a real mistake")

    try:
        result = CliRunner().invoke(group, ["read"])
        assert result.exit_code == 130, result.output
        assert "interrupted" in result.output and "cannot read" not in result.output
    finally:
        cli_module._signal_received = False
    result = CliRunner().invoke(group, ["bad"])
    assert result.exit_code == 2 and "a real mistake" in result.output
