"""Options shared by the click commands, so one flag means one thing everywhere.

- inputs: ``USAGE``, ``--inventory``, ``--policy``, ``--set`` (a policy override, the same in every
  command), ``--scenarios`` (a count), ``--seed``, ``--horizon`` (a duration with a unit),
  ``--overlay``, ``--as-of``;
- output: ``-o table|csv|json``, ``--out`` (a file) and ``--out-dir`` (a folder);
- progress: ``-q/--quiet`` and ``-v/--verbose`` (see :mod:`planner.commands.progress`).

Each decorator adds its options to a command; :func:`load_config` turns the input options into the
:class:`~planner.policy_file.PlanningConfig` of the run (the policy file, then ``--set``, then the
dedicated flags, which win).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from planner.commands.progress import Reporter
from planner.policy_file import PlanningConfig, apply_overrides, read_policy_file
from planner.report.render import FORMATS

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_OUT_DIR = "plan-out"


def _apply(f: F, options: list[Callable[[F], F]]) -> F:
    return functools.reduce(lambda acc, opt: opt(acc), reversed(options), f)


def usage_argument(f: F) -> F:
    return click.argument("usage", type=click.Path(dir_okay=True))(f)


def inventory_option(f: F) -> F:
    return click.option(
        "--inventory",
        type=click.Path(dir_okay=False),
        default=None,
        help="Existing commitments (inventory CSV).",
    )(f)


def policy_option(f: F) -> F:
    return click.option(
        "--policy",
        "policy_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Policy file (TOML); see `planner policy init`. Without one, the documented "
        "defaults apply (`planner policy show` prints them).",
    )(f)


def set_option(f: F) -> F:
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a policy key for this run: section.key=value, growth=+40%, "
        "exclude=coreweave, horizon=12mo (repeatable).",
    )(f)


def scenarios_option(default: int | None = None) -> Callable[[F], F]:
    return click.option(
        "--scenarios",
        type=click.IntRange(1, 2000),
        default=default,
        show_default=default is not None,
        help="Number of demand scenarios"
        + (" (overrides the policy)." if default is None else "."),
    )


def seed_option(default: int | None = None) -> Callable[[F], F]:
    return click.option(
        "--seed",
        type=int,
        default=default,
        show_default=default is not None,
        help="Random seed" + (" (overrides the policy)." if default is None else "."),
    )


def horizon_option(default: str | None = None) -> Callable[[F], F]:
    return click.option(
        "--horizon",
        default=default,
        show_default=default is not None,
        help="Planning horizon with a unit: 12mo, 1y, 90d, 2w, 720h"
        + (" (overrides the policy)." if default is None else "."),
    )


def planning_options(f: F) -> F:
    """USAGE and the options every planning command takes (plan, whatif, compare-aws)."""
    return _apply(
        f,
        [
            usage_argument,
            inventory_option,
            policy_option,
            set_option,
            scenarios_option(),
            seed_option(),
            horizon_option(),
            click.option(
                "--overlay",
                type=click.Path(dir_okay=False),
                default=None,
                help="Price overlay (CSV/TOML).",
            ),
            click.option(
                "--as-of",
                "as_of",
                default=None,
                help="Use price catalogs dated on or before this day (YYYY-MM-DD).",
            ),
        ],
    )


@dataclass(frozen=True)
class ConfigFlags:
    """The input options of :func:`planning_options`, as given."""

    policy_file: str | None = None
    overrides: tuple[str, ...] = ()
    scenarios: int | None = None
    seed: int | None = None
    horizon: str | None = None
    overlay: str | None = None
    as_of: str | None = None

    @classmethod
    def pop(cls, kwargs: dict[str, Any]) -> ConfigFlags:
        """Take this class's fields out of a command's keyword arguments."""
        names = ("policy_file", "overrides", "scenarios", "seed", "horizon", "overlay", "as_of")
        return cls(**{k: kwargs.pop(k) for k in names if k in kwargs})


def load_config(flags: ConfigFlags) -> PlanningConfig:
    """The policy file, then --set overrides, then the dedicated flags (which win)."""
    extra = list(flags.overrides)
    if flags.scenarios is not None:
        extra.append(f"planning.scenarios={flags.scenarios}")
    if flags.seed is not None:
        extra.append(f"planning.seed={flags.seed}")
    if flags.horizon is not None:
        extra.append(f"horizon={flags.horizon}")
    cfg = apply_overrides(read_policy_file(flags.policy_file), extra, source="flags")
    if flags.overlay is not None:
        cfg = replace(cfg, overlay=flags.overlay)
    if flags.as_of is not None:
        cfg = replace(cfg, catalog_as_of=flags.as_of)
    return cfg


def output_option(f: F) -> F:
    return click.option(
        "-o",
        "--output",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="How to print the data: a table, CSV or JSON.",
    )(f)


def out_dir_option(default: str | None = DEFAULT_OUT_DIR) -> Callable[[F], F]:
    return click.option(
        "--out-dir",
        type=click.Path(file_okay=False),
        default=default,
        show_default=default is not None,
        help="Folder for the output files.",
    )


def out_file_option(help_text: str) -> Callable[[F], F]:
    return click.option("--out", type=click.Path(dir_okay=False), default=None, help=help_text)


def progress_options(f: F) -> F:
    """``-q/--quiet`` and ``-v/--verbose``; the command receives ``progress: Reporter``."""

    @click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
    @click.option("-v", "--verbose", is_flag=True, help="Every progress step on its own line.")
    @functools.wraps(f)
    def wrapper(*args: Any, quiet: bool, verbose: bool, **kwargs: Any) -> Any:
        with Reporter.for_stderr(quiet=quiet, verbose=verbose) as progress:
            return f(*args, progress=progress, **kwargs)

    return wrapper  # type: ignore[return-value]
