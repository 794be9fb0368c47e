"""``planner policy``: write a commented policy template, or check and show a policy file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from planner.commands.options import set_option
from planner.policy_file import TEMPLATE, apply_overrides, config_to_toml, read_policy_file
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
@set_option
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["toml", "json"]),
    default="toml",
    show_default=True,
    help="toml: a policy file that reads back the same; json: every field.",
)
def show(path: str | None, overrides: tuple[str, ...], fmt: str) -> None:
    """Check a policy file (none: the defaults a plan without --policy uses) and print the
    settings in force, defaults filled in and the egress charged per GPU-hour stated."""
    cfg = apply_overrides(read_policy_file(path), overrides)
    if fmt == "json":
        click.echo(json.dumps(cfg.to_dict(), indent=2))
    else:
        click.echo(config_to_toml(cfg), nl=False)
