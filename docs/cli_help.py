"""The ``--help`` of every ``planner`` command as Markdown, for docs/cli.md (run by cog)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from planner.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name in sorted(group.commands):
        cmd = group.commands[name]
        path = (*prefix, name)
        out.append(path)
        if isinstance(cmd, click.Group):
            out += _commands(cmd, path)
    return out


def command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand, e.g. ``("prices", "refresh")``."""
    return _commands(cli)


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="planner", terminal_width=100)
    if result.exit_code != 0:
        raise RuntimeError(f"planner {' '.join(path)} --help failed: {result.output}")
    return result.output


def all_help() -> str:
    parts = ["\n## planner\n\n```text\n" + help_text(()) + "```\n"]
    for path in command_paths():
        parts.append(f"\n## planner {' '.join(path)}\n\n```text\n{help_text(path)}```\n")
    return "".join(parts)
