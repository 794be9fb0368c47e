"""SIGTERM ends a run like Ctrl-C: one message, exit code 130, no output folder half-written."""

from __future__ import annotations

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
