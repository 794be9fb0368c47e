"""``planner whatif``: re-plan or re-evaluate under changed assumptions, side by side."""

from __future__ import annotations

import functools

import click

from forecasting import read_usage
from planner.commands.input_options import accept_outliers_option
from planner.commands.quarterly import load_config, planning_options, stderr_progress
from planner.inventory import read_inventory
from planner.policy_file import parse_override
from planner.report.render import FORMATS, render_frame
from planner.workflows.whatif import WhatIf, comparison_table, read_whatif_file, run_whatifs
from pricing_data.errors import PlannerInputError


@click.command("whatif")
@functools.partial(planning_options, set_flag="--base-set")
@click.option(
    "--set", "changes", multiple=True, help="One what-if per --set key=value (repeatable)."
)
@click.option(
    "--scenarios-file", type=click.Path(dir_okay=False), default=None, help="Named what-ifs (TOML)."
)
@click.option("--combine", is_flag=True, help="Apply every --set together as one what-if.")
@click.option(
    "--evaluate-only",
    is_flag=True,
    help="Keep the baseline purchases; show what each change does to them.",
)
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@accept_outliers_option
def whatif(
    usage: str,
    inventory: str | None,
    policy_file: str | None,
    overrides: tuple[str, ...],
    scenarios: int | None,
    seed: int | None,
    horizon: str | None,
    overlay: str | None,
    as_of: str | None,
    changes: tuple[str, ...],
    scenarios_file: str | None,
    combine: bool,
    evaluate_only: bool,
    fmt: str,
) -> None:
    """Compare the baseline plan with what-ifs: `--set growth=+40% --set exclude=coreweave
    --set risk.cvar_limit=5%` re-plans under each change (--combine: all together as one what-if;
    --base-set changes the baseline itself). Prints the figures side by side: purchases now, cost,
    savings, utilisation and risk."""
    base_cfg = load_config(policy_file, overrides, scenarios, seed, horizon, overlay, as_of)
    whatifs: list[WhatIf] = []
    for text in changes:
        parse_override(text)  # a usage error now rather than after the baseline run
    if changes:
        whatifs = (
            [WhatIf(" + ".join(changes), changes)]
            if combine
            else [WhatIf(c, (c,)) for c in changes]
        )
    if scenarios_file:
        whatifs += read_whatif_file(scenarios_file)
    if not whatifs:
        raise PlannerInputError(
            "no what-if given",
            column="--set",
            fix="add --set key=value (e.g. growth=+40%) or --scenarios-file F",
        )
    history = read_usage(usage)
    inv = read_inventory(inventory) if inventory else []
    base, results = run_whatifs(
        history,
        inv,
        base_cfg,
        whatifs,
        evaluate_only=evaluate_only,
        usage_file=usage,
        inventory_file=inventory,
        progress=stderr_progress,
    )
    table = comparison_table(base, results)
    click.echo(render_frame(table, fmt, floatfmt=",.2f"), nl=False)
    if fmt == "table":
        mode = "baseline purchases re-evaluated" if evaluate_only else "re-planned"
        click.echo(
            f"\n{len(results)} what-if(s), {mode}; expected figures over {base.config.scenarios} scenarios."
        )
