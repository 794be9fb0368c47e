"""``planner whatif``: re-plan or re-evaluate under changed assumptions, side by side."""

from __future__ import annotations

from typing import Any

import click

from planner.commands.input_options import accept_outliers_option
from planner.commands.options import (
    ConfigFlags,
    load_config,
    output_option,
    planning_options,
    progress_options,
)
from planner.commands.progress import Reporter
from planner.report.render import render_frame
from planner.report.whatif import whatif_text
from planner.workflows.inputs import load_inputs
from planner.workflows.records import read_plan
from planner.workflows.whatif import run_whatifs, whatifs_from_flags


@click.command("whatif")
@planning_options
@click.option(
    "--what-if",
    "changes",
    multiple=True,
    metavar="KEY=VALUE",
    help="One what-if: a policy override as in --set, e.g. growth=+40% (annual compound growth "
    "on top of the forecast), exclude=coreweave, risk.cvar_limit=5% (repeatable).",
)
@click.option(
    "--what-if-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Named what-ifs (TOML: [name] set = [...]).",
)
@click.option("--combine", is_flag=True, help="Apply every --what-if together as one what-if.")
@click.option(
    "--evaluate-only",
    is_flag=True,
    help="Keep the baseline purchases; show what each change does to them.",
)
@click.option(
    "--plan",
    "plan_json",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --evaluate-only: the saved plan.json whose purchases are evaluated (instead of "
    "planning a baseline).",
)
@click.option(
    "--savings-curves",
    is_flag=True,
    help="Also compute the savings curves (slower; off by default).",
)
@output_option
@progress_options
@accept_outliers_option
def whatif(
    usage: str,
    inventory: str | None,
    changes: tuple[str, ...],
    what_if_file: str | None,
    combine: bool,
    evaluate_only: bool,
    plan_json: str | None,
    savings_curves: bool,
    fmt: str,
    progress: Reporter,
    **flags: Any,
) -> None:
    """Compare the baseline plan with what-ifs: `--what-if growth=+40% --what-if exclude=coreweave`
    re-plans under each change (--combine: all together as one what-if; --set changes the baseline
    itself, as in `planner plan`). Prints the figures side by side: purchases now, cost, savings,
    utilisation and risk. What-ifs that leave demand alone reuse the baseline forecast."""
    whatifs = whatifs_from_flags(changes, combine=combine, file=what_if_file)
    saved = read_plan(plan_json) if plan_json else None
    inputs = load_inputs(usage, load_config(ConfigFlags.pop(flags)), inventory, progress=progress)
    outcome = run_whatifs(
        inputs,
        whatifs,
        evaluate_only=evaluate_only,
        baseline_plan=saved,
        savings_curves=savings_curves,
        progress=progress,
    )
    progress.close()
    if fmt != "table":
        click.echo(render_frame(outcome.frame(), fmt), nl=False)
        return
    click.echo(whatif_text(outcome, inputs.config.scenarios), nl=False)
