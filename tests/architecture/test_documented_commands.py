"""Every ``planner ...`` command written in the README, the walkthrough and the docs parses with
the command line as it is (options exist, choices and types are valid, required options given), and
every command in docs/cli.md answers ``--help``. Commands are parsed, not run: no file is read.

In the docs' command spans, ``[...]`` marks optional parts (parsed as if given), ``a|b``
alternatives (the first is parsed) and ``...`` repetition (dropped).
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from docs.cli_help import command_paths, help_text
from planner.cli import cli

ROOT = Path(__file__).parents[2]
DOCUMENTS = ("README.md", "examples/README.md", "docs/aws.md", "docs/architecture.md")


def _commands(text: str) -> list[str]:
    """``planner ...`` commands: shell lines (``$ planner``, with ``\\`` continuations, or bare
    lines in fenced blocks) and inline code spans."""
    out: list[str] = []
    in_block = False
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and re.match(r"^(\$ )?planner\s", line):
            cmd = line.removeprefix("$ ")
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd[:-1] + " " + lines[i].strip()
            out.append(cmd)
        elif not in_block:
            out += re.findall(r"`(planner\s[^`]+)`", line)
        i += 1
    return out


def _normalise(cmd: str) -> list[str]:
    cmd = cmd.replace("\\|", "|").replace("...", " ")
    cmd = re.sub(r"\[([^\[\]]*)\]", r"\1", cmd)  # optional parts: parse them too
    cmd = re.sub(r"([^\s|]+)(\|[^\s|]+)+", r"\1", cmd)  # alternatives (a|b|c): the first
    return shlex.split(cmd)[1:]


DOCUMENTED = [
    (doc, cmd)
    for doc in DOCUMENTS
    if (ROOT / doc).is_file()
    for cmd in _commands((ROOT / doc).read_text(encoding="utf-8"))
]


def _rest(ctx: click.Context) -> list[str]:
    with warnings.catch_warnings():  # click 8.2 deprecates protected_args (merged in 9.0)
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*ctx.protected_args, *ctx.args]


def _parse(args: list[str]) -> None:
    ctx = cli.make_context("planner", list(args))
    cmd: click.Command = cli
    while isinstance(cmd, click.Group):
        rest = _rest(ctx)
        if not rest and cmd.invoke_without_command:
            return
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd = sub


def test_the_documents_hold_commands() -> None:
    docs = {d for d, _ in DOCUMENTED}
    assert {"README.md", "examples/README.md"} <= docs
    assert len(DOCUMENTED) >= 20


@pytest.mark.parametrize(("doc", "command"), DOCUMENTED)
def test_documented_command_parses(doc: str, command: str) -> None:
    try:
        _parse(_normalise(command))
    except click.exceptions.UsageError as e:
        pytest.fail(f"{doc}: `{command}` does not parse: {e.format_message()}")


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    assert "Usage: planner" in help_text(path)


def test_a_wrong_option_is_caught() -> None:
    """The parse check itself can fail: README once documented ``whatif --change``."""
    with pytest.raises(click.exceptions.UsageError):
        _parse(_normalise("planner whatif USAGE --change growth=+40%"))
