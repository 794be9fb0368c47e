"""``planner policy``: write a commented policy template, or check and show a policy file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from planner.policy_file import TEMPLATE, apply_overrides, read_policy_file
from pricing_data.errors import PlannerInputError
from pricing_data.fileio import atomic_write_text


@click.group()
def policy() -> None:
    """Create and check policy files (TOML)."""


@policy.command("init")
@click.argument("path", type=click.Path(dir_okay=False), default="policy.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, force: bool) -> None:
    """Write a commented policy template whose values are the defaults."""
    if Path(path).exists() and not force:
        raise PlannerInputError(
            "file exists", file=path, fix="pass --force to overwrite it, or choose another path"
        )
    atomic_write_text(path, TEMPLATE)
    click.echo(f"wrote {path}")


@policy.command("show")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("--set", "overrides", multiple=True, help="Override a key: section.key=value.")
def show(path: str | None, overrides: tuple[str, ...]) -> None:
    """Check a policy file and print the settings in force (defaults filled in) as JSON."""
    cfg = apply_overrides(read_policy_file(path), overrides)
    click.echo(json.dumps(cfg.to_dict(), indent=2))
