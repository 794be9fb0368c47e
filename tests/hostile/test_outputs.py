"""Output folders are written all or nothing (planner.report.outputs), and a new run leaves no
file of an older run beside its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from planner.report.outputs import (
    MANIFEST,
    check_distinct_outputs,
    check_writable_dir,
    write_output_dir,
)
from pricing_data.errors import PlannerInputError
from tests.hostile.conftest import USAGE, assert_usage_error, run, snapshot


def test_new_folder_gets_every_file_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    write_output_dir(out, {"plan.json": b"{}", "purchases.csv": b"x\n"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "plan.json", "purchases.csv"]
    assert json.loads((out / MANIFEST).read_text())["files"] == ["plan.json", "purchases.csv"]
    assert not [p for p in tmp_path.joinpath("a").iterdir() if p.name.startswith(".")]


def test_files_of_the_previous_run_not_rewritten_are_removed(tmp_path: Path) -> None:
    write_output_dir(tmp_path / "o", {"plan.json": b"1", "report.html": b"old", "x.png": b"old"})
    write_output_dir(tmp_path / "o", {"plan.json": b"2"})
    assert snapshot(tmp_path / "o").keys() == {"plan.json", MANIFEST}
    assert (tmp_path / "o" / "plan.json").read_bytes() == b"2"


def test_old_outputs_without_a_manifest_are_removed_but_other_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    for name in ("report.html", "demand_fan.png", "plan.json"):
        (out / name).write_text("old")
    (out / "notes.txt").write_text("mine")
    write_output_dir(out, {"plan.json": b"new", "purchases.csv": b"new"})
    assert sorted(snapshot(out)) == [MANIFEST, "notes.txt", "plan.json", "purchases.csv"]
    assert (out / "notes.txt").read_text() == "mine"


def test_a_failure_while_moving_leaves_the_old_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    write_output_dir(out, {"plan.json": b"old", "report.html": b"old"})
    before = snapshot(out)
    real = os.replace
    calls = {"n": 0}

    def flaky(a: object, b: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second rename fails (e.g. the disk is full)
            raise OSError(28, "No space left on device")
        real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(PlannerInputError, match="No space left"):
        write_output_dir(out, {"plan.json": b"new"})
    monkeypatch.undo()
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temporary folder left behind


def test_a_folder_in_the_way_refuses_before_any_file_moves(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "plan.json").write_text("old")
    (out / "report.html").mkdir()
    before = snapshot(out)
    with pytest.raises(PlannerInputError, match=r"report\.html in the output folder is a folder"):
        write_output_dir(out, {"plan.json": b"new", "report.html": b"new"})
    assert snapshot(out) == before


def test_check_writable_dir_creates_nothing(tmp_path: Path) -> None:
    check_writable_dir(tmp_path / "new" / "deeper")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(PlannerInputError, match="is a file"):
        check_writable_dir(tmp_path / "f")
    with pytest.raises(PlannerInputError, match="is a file"):
        check_writable_dir(tmp_path / "f" / "sub")


def test_distinct_outputs() -> None:
    check_distinct_outputs({"--out": "a.csv", "--json": "a.json", "--x": None})
    with pytest.raises(PlannerInputError, match="--out and --json name the same file"):
        check_distinct_outputs({"--out": "a.csv", "--json": "./a.csv"})


@pytest.mark.slow
def test_no_report_run_removes_the_older_report_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("report.html", "demand_fan.png", "utilization.png", "purchases.csv"):
        (out / name).write_text("from an older run")
    (out / "README.txt").write_text("the user's own file")
    r = run("plan", USAGE, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out, "--no-report")
    assert r.exit_code == 0, r.output
    names = set(snapshot(out))
    data = {"purchases.csv", "plan.json", "comparison.csv", "cashflow.csv"}
    assert names == data | {MANIFEST, "README.txt"}
    assert (out / "purchases.csv").read_text() != "from an older run"


@pytest.mark.slow
def test_unusable_report_path_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    (out / "report.html").mkdir()  # the report cannot be written
    before = snapshot(out)
    r = run("plan", USAGE, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out)
    assert_usage_error(r, "report.html")
    assert snapshot(out) == before  # no purchases.csv, plan.json or chart beside it
