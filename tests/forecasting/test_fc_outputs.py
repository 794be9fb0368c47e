"""`planner forecast` outputs in the grammar of the other commands: ``-o`` how the data is printed,
``--out FILE`` (``-``: stdout) where, ``--out-dir DIR`` the forecast's files all or nothing; a bad
path is exit 2 before any work, naming the option and the fix."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from planner.cli import cli
from planner.commands.forecast import FORECAST_FILES
from planner.report.outputs import MANIFEST

DATA = Path(__file__).resolve().parent.parent / "data"
HELIOS = str(DATA / "usage" / "helios-earth" / "usage.csv")
QUICK = ("--horizon", "3d", "--scenarios", "5", "--model", "ets", "-q")


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, ["forecast", HELIOS, *QUICK, *(str(a) for a in args)])


def usage_error(r: Result, *needles: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert "Traceback" not in r.output
    assert sum(line.startswith("Error:") for line in r.output.splitlines()) == 1, r.output
    for n in needles:
        assert n in r.output, (n, r.output)


def test_out_dir_writes_the_forecast_files_and_prints_the_table(tmp_path: Path) -> None:
    out = tmp_path / "fc"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # not the planner's: left alone
    r = run("--out-dir", out)
    assert r.exit_code == 0, r.output
    assert "MASE" in r.stdout or "mase" in r.stdout  # the table still goes to stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([*FORECAST_FILES, MANIFEST, "notes.txt"])
    assert json.loads((out / MANIFEST).read_text())["files"] == sorted(FORECAST_FILES)
    assert (out / "demand_fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    q = pd.read_csv(out / "quantiles.csv")
    assert list(q.columns) == ["timestamp", "pool", "p10", "p50", "p90"] and len(q) == 72
    table = pd.read_csv(out / "forecast.csv")
    assert {"pool", "month", "p50_mean_gpus", "model", "mase"} <= set(table.columns)
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.parametrize(
    ("name", "fmt"), [("f.json", "json"), ("f.csv", "csv"), ("f.txt", "table")]
)
def test_out_takes_its_format_from_the_extension(tmp_path: Path, name: str, fmt: str) -> None:
    target = tmp_path / name
    r = run("--out", target)
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and f"wrote {target} ({fmt})" in r.stderr
    text = target.read_text()
    if fmt == "json":
        assert json.loads(text)[0]["model"] == "ets"
    elif fmt == "csv":
        assert pd.read_csv(io.StringIO(text))["model"].eq("ets").all()
    else:
        assert "history " in text and "p50_mean_gpus" in text


def test_out_dash_and_o_json_print_to_stdout() -> None:
    r = run("--out", "-", "-o", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["model"] == "ets"


def test_o_overrides_an_unknown_extension(tmp_path: Path) -> None:
    r = run("--out", tmp_path / "f.out", "-o", "csv")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "f.out").read_text().startswith("pool,")


def test_bad_output_paths_are_usage_errors_before_the_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    usage_error(run("--out", tmp_path / "f.csv", "-o", "json"), "-o", "name the file with .json")
    usage_error(run("--out", blocker / "f.csv"), "--out", "is a file")
    usage_error(run("--out-dir", blocker / "fc"), "--out-dir", "give --out-dir a folder path")
    usage_error(
        run("--out-dir", tmp_path / "fc", "--out", tmp_path / "fc" / "quantiles.csv"),
        "--out-dir's quantiles.csv and --out name the same file",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written


@pytest.mark.parametrize("option", ["--plot", "--quantiles"])
def test_the_retired_file_options_say_what_replaced_them(tmp_path: Path, option: str) -> None:
    r = run(option, tmp_path / "x")
    usage_error(r, f"{option} was replaced by --out-dir", "demand_fan.png")
    assert not (tmp_path / "x").exists()
