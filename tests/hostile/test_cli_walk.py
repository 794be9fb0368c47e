"""Every command, every input path: the hostile-file catalogue gives exit code 2, one ``Error:``
line, and no traceback. Output paths: an unusable folder or file fails before any work."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from planner.cli import cli
from tests.hostile.conftest import INVENTORY, USAGE, assert_usage_error, run, snapshot

#: The input path parameters of every command and the suffix their files carry.
INPUTS: dict[str, list[tuple[str, str]]] = {
    "policy show": [("{}", ".toml")],
    "export": [("{}", ".json")],
    "plan": [
        ("{}", ".csv"),
        ("--inventory {}", ".csv"),
        ("--policy {}", ".toml"),
        ("--overlay {}", ".csv"),
    ],
    "whatif": [("{}", ".csv"), ("--scenarios-file {}", ".toml"), ("--overlay {}", ".toml")],
    "attribute": [("{} --plan {plan}", ".csv"), ("--plan {}", ".json")],
    "inventory import": [("--from focus {}", ".csv")],
    "compare-aws": [("{}", ".csv"), ("--recommendation {}", ".json"), ("--inventory {}", ".csv")],
    "usage": [("{}", ".csv"), ("{}", ".parquet"), ("--policy {}", ".toml")],
    "forecast": [("{}", ".csv"), ("--growth {}", ".toml")],
    "backtest": [("{}", ".csv"), ("--policy {}", ".toml")],
    "optimize": [("--scenarios-file {}", ".npz"), ("--usage {}", ".csv")],
    "prices": [("--overlay {}", ".csv"), ("--overlay {}", ".toml")],
}
#: Arguments that make the rest of each command valid ({usage}, {plan}, {out} are filled in).
BASE: dict[str, str] = {
    "policy show": "",
    "export": "",
    "plan": "{usage} --scenarios 2 --horizon 1mo --out-dir {out}",
    "whatif": "{usage} --scenarios 2 --horizon 1mo",
    "attribute": "{usage}",
    "inventory import": "",
    "compare-aws": "{usage}",
    "usage": "{usage}",
    "forecast": "{usage} --horizon 2d --scenarios 2",
    "backtest": "{usage}",
    "optimize": "--out-dir {out} --horizon 1mo --scenarios 2",
    "prices": "",
}
HOSTILE: dict[str, bytes | None] = {
    "missing": None,
    "empty": b"",
    "binary": bytes(range(256)) * 4,
    "garbage": b'hello\x00world;;\n"unclosed,\xff\xfe\n',
    "semicolons": b"a;b;c\n1;2;3\n",
    "header-only": b"timestamp,gpu_type,gpus\n",
    "bom-garbage": b"\xef\xbb\xbf[[[\n= = =\n",
}


def _commands() -> list[str]:
    names = []

    def walk(cmd: click.Command, prefix: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for n, c in cmd.commands.items():
                walk(c, (*prefix, n))
        else:
            names.append(" ".join(prefix))

    walk(cli, ())
    return names


def test_the_catalogue_covers_every_command_that_reads_a_file() -> None:
    # prices refresh talks to AWS and policy init only writes: neither reads a user file
    assert set(_commands()) - set(INPUTS) == {"prices refresh", "policy init"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A two-week slice of the example usage, and a plan made from it."""
    d = tmp_path_factory.mktemp("small")
    lines = USAGE.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    first_day = rows[0][:10]
    keep = [r for r in rows if r[:10] < "2026-05-15" or r[:10] == first_day]
    usage = d / "usage.csv"
    usage.write_text(head + "\n" + "\n".join(keep) + "\n")
    out = d / "plan"
    r = run("plan", usage, "--scenarios", "2", "--horizon", "1mo", "--out-dir", out, "--no-report")
    assert r.exit_code == 0, r.output
    return {"usage": usage, "plan": out / "plan.json"}


#: Files that are valid although empty: an empty policy or overlay means "the defaults" / "no
#: change", and ``planner usage`` summarises a header-only file with a warning. Not hostile.
VALID_EMPTY = {
    ("policy show", "{}", "empty"),
    ("plan", "--policy {}", "empty"),
    ("usage", "--policy {}", "empty"),
    ("prices", "--overlay {}", "header-only"),
    ("prices", "--overlay {}", "empty"),
    ("plan", "--overlay {}", "header-only"),
    ("usage", "{}", "header-only"),
}
CASES = [
    (command, template, suffix, kind)
    for command, params in INPUTS.items()
    for template, suffix in params
    for kind in HOSTILE
    if (command, template, kind) not in VALID_EMPTY
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "template", "suffix", "kind"), CASES)
def test_hostile_input_file(
    tmp_path: Path, small: dict[str, Path], command: str, template: str, suffix: str, kind: str
) -> None:
    hostile = tmp_path / f"hostile{suffix}"
    content = HOSTILE[kind]
    if content is not None:
        hostile.write_bytes(content)
    out = tmp_path / "out"
    base = BASE[command].format(usage=small["usage"], plan=small["plan"], out=out)
    given = template.format(hostile, plan=small["plan"])
    args = [*command.split(), *given.split(), *base.split()]
    if template == "{}" and str(small["usage"]) in args:
        args.remove(str(small["usage"]))  # the hostile file is the usage file: drop the valid one
    r = run(*args)
    assert_usage_error(r)
    assert snapshot(out) == {}


# ---- output paths ----------------------------------------------------------------------------


def test_unwritable_out_dir_fails_before_reading_anything(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("plan", USAGE, "--out-dir", blocker / "sub", "--scenarios", "2", "--horizon", "1mo")
    assert_usage_error(r, "is a file, not a folder", "--out-dir")
    assert "reading usage" not in r.output  # refused before the run started


def test_export_out_and_json_on_one_file_is_refused(tmp_path: Path, small: dict[str, Path]) -> None:
    same = tmp_path / "x.csv"
    r = run("export", small["plan"], "--out", same, "--json", same)
    assert_usage_error(r, "--out and --json name the same file")
    assert not same.exists()
    r = run("export", small["plan"], "--out", small["plan"])
    assert_usage_error(r, "name the same file")
    assert small["plan"].read_text().startswith("{")


def test_optimize_into_an_unusable_folder_fails_first(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("optimize", "--usage", USAGE, "--out-dir", blocker)
    assert_usage_error(r, "is a file")


@pytest.mark.parametrize(
    "args",
    [
        ["forecast", "{usage}", "--horizon", "1000y"],
        ["forecast", "{usage}", "--horizon", "99999999999999999999h"],
        ["forecast", "{usage}", "--scenarios", "100000"],
        ["plan", "{usage}", "--horizon", "100000mo"],
        ["plan", "{usage}", "--set", "planning.horizon_months=100000"],
        ["plan", "{usage}", "--set", "growth=-150%"],
        ["plan", "{usage}", "--inventory", "{inv9999}"],
    ],
)
def test_flags_that_used_to_raise_tracebacks(
    tmp_path: Path, small: dict[str, Path], args: list[str]
) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(
        INVENTORY.read_text().splitlines()[0]
        + "\ncw,coreweave,reserved_contract,north-america,HGX H100,,12,no_upfront,16,,2026-06-01,9999-12-31\n"
    )
    filled = [a.format(usage=small["usage"], inv9999=inv) for a in args]
    if filled[0] == "plan":
        filled += ["--out-dir", str(tmp_path / "o")]
    assert_usage_error(run(*filled))
