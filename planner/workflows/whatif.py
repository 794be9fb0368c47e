"""What-if: re-plan (or re-evaluate) under changed assumptions and compare with the baseline.

A :class:`WhatIf` is a name and a list of ``key=value`` overrides (the syntax of ``--set``, see
:mod:`planner.policy_file`). Two modes:

- **re-plan** (default): the quarterly run is repeated under each what-if (new forecast when demand
  settings change, new catalog, new optimisation), and its purchases and figures are set beside the
  baseline's.
- **evaluate only**: the baseline's commitments (inventory plus every recommended purchase) are kept
  and evaluated under each what-if's demand scenarios, prices and serving rules: what the change does
  to the cost and utilisation of what would be bought. Commitments are priced from the full catalog
  (a provider excluded by the what-if still bills what was committed there).

Scenario files (TOML) name several what-ifs, each a table with a ``set`` list::

    [growth-40]
    set = ["growth=+40%"]

    [leave-coreweave]
    set = ["exclude=coreweave", "risk.cvar_limit_pct=5"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import UsageHistory
from planner.evaluate.compare import (
    ALL_ON_DEMAND,
    THIS_PLAN,
    StrategyFigures,
    evaluate_over_scenarios,
)
from planner.inventory import Commitment
from planner.policy_file import PlanningConfig, apply_overrides
from planner.workflows.quarterly import (
    PlanRun,
    effective_policy,
    forecast_for,
    plan_from_history,
)
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import read_user_text

Progress = Callable[[str], None]


@dataclass(frozen=True)
class WhatIf:
    name: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class WhatIfResult:
    """One what-if's outcome: a full run (re-plan) or the baseline commitments re-evaluated."""

    whatif: WhatIf
    config: PlanningConfig
    run: PlanRun | None
    on_demand: StrategyFigures
    figures: StrategyFigures


def read_whatif_file(path: str | Path) -> list[WhatIf]:
    """Named what-ifs from a TOML file (module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError(
            "what-if file not found", file=str(path), fix="check the --scenarios-file path"
        )
    try:
        doc = tomllib.loads(
            read_user_text(p, what="what-if file", fix="give a TOML file of named what-ifs")
        )
    except tomllib.TOMLDecodeError as e:
        raise PlannerInputError(
            f"not valid TOML: {e}", file=str(path), fix="fix the TOML syntax"
        ) from None
    out = []
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise PlannerInputError(
                "each what-if is a table",
                file=str(path),
                column=name,
                fix='write [name] then set = ["key=value"]',
            )
        for key in table:
            if key != "set":
                raise UnknownNameError("what-if key", key, ("set",), file=str(path), column=name)
        sets = table.get("set", [])
        if isinstance(sets, str):
            sets = [sets]
        if not sets or not all(isinstance(x, str) for x in sets):
            raise PlannerInputError(
                "a what-if needs a list of overrides",
                file=str(path),
                column=f"{name}.set",
                value=sets,
                fix='write set = ["growth=+40%"]',
            )
        out.append(WhatIf(name, tuple(sets)))
    if not out:
        raise PlannerInputError(
            "no what-if in the file", file=str(path), fix="add a [name] table with set = [...]"
        )
    return out


def run_whatifs(
    history: UsageHistory,
    inventory: list[Commitment],
    base_config: PlanningConfig,
    whatifs: list[WhatIf],
    *,
    evaluate_only: bool = False,
    usage_file: str = "(usage)",
    inventory_file: str | None = None,
    progress: Progress | None = None,
) -> tuple[PlanRun, list[WhatIfResult]]:
    """The baseline run and each what-if's result (module docstring)."""
    say = progress or (lambda _m: None)
    configs = [
        (w, apply_overrides(base_config, w.overrides, source=f"what-if {w.name!r}"))
        for w in whatifs
    ]
    say("baseline")
    base = plan_from_history(
        history,
        inventory,
        base_config,
        usage_file=usage_file,
        inventory_file=inventory_file,
        progress=progress,
    )
    results = []
    for w, cfg in configs:
        say(f"what-if {w.name!r}: {', '.join(w.overrides)}")
        if evaluate_only:
            _, fc = forecast_for(history, cfg, progress)
            policy = effective_policy(cfg)
            # every provider's prices: commitments at an excluded provider still bill; the
            # policy's providers limit off-AWS serving in the evaluator
            offers = load_catalog(as_of=cfg.catalog_as_of, overlay=cfg.overlay).offers
            sc = fc.scenarios
            commitments = [*inventory, *base.plan.commitments()]
            from dataclasses import replace

            od = evaluate_over_scenarios(
                ALL_ON_DEMAND,
                [],
                sc.demand_gpus,
                sc.probabilities,
                sc.timestamps,
                sc.pools,
                offers,
                replace(policy, spot_cap_share=0.0),
            )
            figs = evaluate_over_scenarios(
                "baseline purchases",
                commitments,
                sc.demand_gpus,
                sc.probabilities,
                sc.timestamps,
                sc.pools,
                offers,
                policy,
            )
            results.append(WhatIfResult(w, cfg, None, od, figs))
        else:
            run = plan_from_history(
                history,
                inventory,
                cfg,
                usage_file=usage_file,
                inventory_file=inventory_file,
                progress=progress,
            )
            results.append(
                WhatIfResult(w, cfg, run, run.strategy(ALL_ON_DEMAND), run.strategy(THIS_PLAN))
            )
    return base, results


def _column(
    on_demand: StrategyFigures, figs: StrategyFigures, run: PlanRun | None, beta: float
) -> dict[str, object]:
    od = on_demand.expected_cost_usd
    cost = figs.expected_cost_usd
    util = np.array([e.utilization for e in figs.evaluations])
    q = 1 - beta
    col: dict[str, object] = {
        "expected cost (USD)": round(cost, 2),
        "annual cost (USD)": round(figs.annual_cost_usd, 2),
        "all on-demand (USD)": round(od, 2),
        "savings vs on-demand (USD)": round(od - cost, 2),
        "effective savings rate %": round(100 * figs.expected("esr"), 2),
        "coverage %": round(100 * figs.expected("coverage"), 2),
        "utilisation %": round(100 * float(np.dot(figs.probabilities, util)), 2),
        "worst-tail utilisation % (1 - cvar_beta quantile)": round(
            100 * figs.tail_utilization(q), 2
        ),
        "commitment waste (USD)": round(figs.expected("waste_usd"), 2),
        "worst scenario cost (USD)": round(max(e.total_usd for e in figs.evaluations), 2),
    }
    if run is not None:
        firm = [p for p in run.plan.purchases if p.firm]
        col["purchases now"] = len(firm)
        col["upfront now (USD)"] = round(run.upfront_now_usd(), 2)
        for model in (
            "reserved_instance",
            "ec2_instance_savings_plan",
            "compute_savings_plan",
            "reserved_contract",
        ):
            ps = [p for p in firm if p.commitment.purchase_model == model]
            if model.endswith("savings_plan"):
                col[f"now: {model} ($/h)"] = round(
                    sum(p.commitment.hourly_commitment_usd for p in ps), 3
                )
            else:
                col[f"now: {model} (units)"] = round(sum(p.commitment.quantity for p in ps), 1)
    return col


def comparison_table(base: PlanRun, results: list[WhatIfResult]) -> pd.DataFrame:
    """Metrics (rows) × baseline and each what-if (columns), side by side."""
    cols = {
        "baseline": _column(
            base.strategy(ALL_ON_DEMAND), base.strategy(THIS_PLAN), base, base.policy.cvar_beta
        )
    }
    for r in results:
        name = r.whatif.name
        k = 2
        while name in cols:  # two what-ifs of one name (or one named "baseline") keep both columns
            name = f"{r.whatif.name} ({k})"
            k += 1
        cols[name] = _column(r.on_demand, r.figures, r.run, r.config.policy.cvar_beta)
    df = pd.DataFrame(cols)
    df.index.name = "figure"
    return df.reset_index()
