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

A what-if that leaves the demand settings alone (scenarios, seed, growth, pools, horizon) reuses the
baseline's forecast, and the backtest forecasts its sizing rules are scored on; savings curves are
skipped unless asked for. With a saved plan (``--plan``,
evaluate only) the saved purchases are evaluated instead of re-planning a baseline.

What-if files (TOML, ``--what-if-file``) name several what-ifs, each a table with a ``set`` list::

    [growth-40]
    set = ["growth=+40%"]

    [leave-coreweave]
    set = ["exclude=coreweave", "risk.cvar_limit_pct=5"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting import Forecast
from planner.evaluate.compare import (
    ALL_ON_DEMAND,
    THIS_PLAN,
    StrategyFigures,
    evaluate_over_scenarios,
)
from planner.evaluate.serverless import plan_serverless
from planner.inventory import Commitment
from planner.plan import Plan
from planner.policy_file import PlanningConfig, apply_overrides, parse_override
from planner.serverless import ServerlessSetup
from planner.valuation import valuation_for
from planner.workflows.inputs import PlanningInputs, forecast_key
from planner.workflows.quarterly import PlanRun, plan_run
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import read_user_text

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


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
    #: evaluate-only: the plan whose purchases are billed (the saved plan or the baseline's)
    plan: Plan | None = None


BASELINE = WhatIf("baseline", ())


def read_whatif_file(path: str | Path) -> list[WhatIf]:
    """Named what-ifs from a TOML file (module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError(
            "what-if file not found", file=str(path), fix="check the --what-if-file path"
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


def whatifs_from_flags(
    changes: Sequence[str], *, combine: bool = False, file: str | Path | None = None
) -> list[WhatIf]:
    """The what-ifs a command asked for: one per ``--what-if`` (or one of them all with
    ``combine``), then those of a what-if file. Each override is checked before any run."""
    for text in changes:
        parse_override(text)  # a usage error now rather than after the baseline run
    out: list[WhatIf] = []
    if changes:
        out = (
            [WhatIf(" + ".join(changes), tuple(changes))]
            if combine
            else [WhatIf(c, (c,)) for c in changes]
        )
    if file:
        out += read_whatif_file(file)
    if not out:
        raise PlannerInputError(
            "no what-if given",
            column="--what-if",
            fix="add --what-if key=value (e.g. growth=+40%) or --what-if-file F",
        )
    return out


def without_savings_curves(config: PlanningConfig) -> PlanningConfig:
    """``config`` with the savings curves off (what-ifs compare purchases and costs only)."""
    return replace(config, policy=replace(config.policy, savings_curve_points=0))


class _Forecasts:
    """Forecasts by :func:`forecast_key`: a what-if that leaves demand alone reuses one, and the
    sizing rules' backtest forecasts made for it (by origin hour, filled by the first re-plan)."""

    def __init__(self, progress: Progress) -> None:
        self._done: list[tuple[tuple[object, ...], Forecast, dict[int, Forecast]]] = []
        self._say = progress
        self.fitted = 0

    def get(self, inputs: PlanningInputs) -> tuple[Forecast, dict[int, Forecast]]:
        key = forecast_key(inputs.config)
        for k, done, backtests in self._done:
            if k == key:
                self._say("demand settings unchanged: reusing the forecast")
                return done, backtests
        fc = inputs.forecast(self._say)
        self.fitted += 1
        sizing: dict[int, Forecast] = {}
        self._done.append((key, fc, sizing))
        return fc, sizing


def _evaluate_commitments(
    inputs: PlanningInputs,
    fc: Forecast,
    commitments: list[Commitment],
    name: str,
    serverless: ServerlessSetup | None = None,
) -> tuple[StrategyFigures, StrategyFigures]:
    """All on-demand and ``commitments`` (with the baseline plan's ``serverless`` decisions, which
    apply to the pools of the same name) evaluated on ``fc``'s scenarios under ``inputs``."""
    sc = fc.scenarios
    policy = inputs.policy
    offers = inputs.catalog.offers
    # billed over the whole valuation horizon, as the plans are (planner/valuation.py)
    vp = valuation_for(
        sc.demand_gpus, sc.start, policy, list(inputs.inventory), seed=sc.seed, offers=offers
    )
    args = (vp.demand_gpus, sc.probabilities, None, sc.pools, offers)
    od = evaluate_over_scenarios(
        ALL_ON_DEMAND, [], *args, replace(policy, spot_cap_share=0.0), timeline=vp.timeline
    )
    return od, evaluate_over_scenarios(
        name,
        commitments,
        *args,
        policy,
        timeline=vp.timeline,
        spot_price_factor=vp.spot_price_factor,
        serverless=serverless,
    )


@dataclass(frozen=True)
class WhatIfRun:
    """The baseline and every what-if; ``forecasts_fitted`` counts the forecasts made."""

    baseline: WhatIfResult
    results: list[WhatIfResult]
    forecasts_fitted: int
    evaluate_only: bool

    def frame(self) -> pd.DataFrame:
        """One row per case (baseline, then each what-if), machine names with units: what
        ``-o csv|json`` prints (:func:`comparison_frame`)."""
        return comparison_frame(self.baseline, self.results)

    @property
    def notes(self) -> list[str]:
        """What the overrides mean, said once under the table."""
        keys = {o.split("=", 1)[0].strip() for r in self.results for o in r.whatif.overrides}
        out = []
        if "growth" in keys:
            out.append(
                "growth=X% is annual compound growth on top of the forecast (X% a year from the "
                "forecast start), not a one-off level change ([[growth.steps]] in a policy file)"
            )
        return out


def run_whatifs(
    inputs: PlanningInputs,
    whatifs: list[WhatIf],
    *,
    evaluate_only: bool = False,
    baseline_plan: Plan | None = None,
    savings_curves: bool = False,
    progress: Progress | None = None,
) -> WhatIfRun:
    """The baseline and each what-if's result (module docstring).

    ``baseline_plan`` (evaluate-only): the saved plan whose purchases are evaluated, instead of
    planning a baseline. What-ifs that leave the demand settings alone reuse the baseline's
    forecast; savings curves are skipped unless ``savings_curves``.
    """
    say = progress or _quiet
    if not savings_curves:
        inputs = inputs.with_config(without_savings_curves(inputs.config))
    configs = [
        (w, apply_overrides(inputs.config, w.overrides, source=f"what-if {w.name!r}"))
        for w in whatifs
    ]
    forecasts = _Forecasts(say)
    say("baseline")
    base_fc, base_sizing = forecasts.get(inputs)
    if baseline_plan is not None:
        if not evaluate_only:
            raise PlannerInputError(
                "a saved plan is only evaluated",
                column="--plan",
                fix="add --evaluate-only, or drop --plan to re-plan each what-if",
            )
        commitments = [*inputs.inventory, *baseline_plan.commitments()]
        held = plan_serverless(baseline_plan, None)  # the saved plan's serverless decisions
        od, figs = _evaluate_commitments(inputs, base_fc, commitments, "baseline purchases", held)
        base = WhatIfResult(BASELINE, inputs.config, None, od, figs, baseline_plan)
    else:
        run = plan_run(inputs, fc=base_fc, sizing_forecasts=base_sizing, progress=say)
        commitments = [*inputs.inventory, *run.plan.commitments()]
        held = plan_serverless(run.plan, None)
        baseline_plan = run.plan
        base = WhatIfResult(
            BASELINE, inputs.config, run, run.strategy(ALL_ON_DEMAND), run.strategy(THIS_PLAN)
        )
    results = []
    for w, cfg in configs:
        say(f"what-if {w.name!r}: {', '.join(w.overrides)}")
        case = inputs.with_config(cfg, say)
        fc, sizing = forecasts.get(case)
        if evaluate_only:
            od, figs = _evaluate_commitments(case, fc, commitments, "baseline purchases", held)
            results.append(WhatIfResult(w, cfg, None, od, figs, baseline_plan))
        else:
            r = plan_run(case, fc=fc, sizing_forecasts=sizing, progress=say)
            results.append(
                WhatIfResult(w, cfg, r, r.strategy(ALL_ON_DEMAND), r.strategy(THIS_PLAN))
            )
    return WhatIfRun(base, results, forecasts.fitted, evaluate_only)


#: The firm purchases by kind, as machine columns: (purchase model, column, what it sums).
KIND_COLUMNS = (
    ("reserved_instance", "now_reserved_instances", "quantity"),
    ("ec2_instance_savings_plan", "now_ec2_instance_sp_usd_per_hour", "hourly_commitment_usd"),
    ("compute_savings_plan", "now_compute_sp_usd_per_hour", "hourly_commitment_usd"),
    ("reserved_contract", "now_contract_gpus", "quantity"),
)


def case_figures(r: WhatIfResult) -> dict[str, object]:
    """One case's figures (the baseline or a what-if), by machine name with its unit: the
    evaluator's expected bill over the scenarios to the end of every term, on the plan's bases
    (cash with upfront when paid, its NPV, and the accrual with upfront spread over each term),
    and (when the case has a plan) the purchases to make now. ``tail_utilization_pct``
    is the utilisation at the ``tail_share_pct`` quantile (1 - cvar_beta) of the scenarios."""
    on_demand, figs, beta = r.on_demand, r.figures, r.config.policy.cvar_beta
    plan = r.plan if r.plan is not None else (r.run.plan if r.run is not None else None)
    od_cash, cash = on_demand.expected_cash_usd, figs.expected_cash_usd
    od_npv, npv = on_demand.expected_npv_usd, figs.expected_npv_usd
    util = np.array([e.utilization for e in figs.evaluations])
    q = 1 - beta
    row: dict[str, object] = {
        "what_if": r.whatif.name,
        "changes": "; ".join(r.whatif.overrides),
        "cash_cost_usd": round(cash, 2),
        "npv_cost_usd": round(npv, 2),
        "all_on_demand_cash_usd": round(od_cash, 2),
        "cash_savings_vs_on_demand_usd": round(od_cash - cash, 2),
        "npv_savings_vs_on_demand_usd": round(od_npv - npv, 2),
        "accrual_cost_usd": round(figs.expected_cost_usd, 2),
        "annual_accrual_cost_usd": round(figs.annual_cost_usd, 2),
        "esr_pct": round(100 * figs.expected("esr"), 2) + 0.0,  # no "-0.00"
        "coverage_pct": round(100 * figs.expected("coverage"), 2),
        "utilization_pct": round(100 * float(np.dot(figs.probabilities, util)), 2)
        if figs.has_spend
        else None,
        "tail_utilization_pct": round(100 * figs.tail_utilization(q), 2)
        if figs.has_spend
        else None,
        "tail_share_pct": round(100 * q, 2),
        "waste_usd": round(figs.expected("waste_usd"), 2),
        "worst_scenario_cash_usd": round(max(e.cash_usd for e in figs.evaluations), 2),
        "purchases_now": None,
        "upfront_now_usd": None,
        **{col: None for _, col, _ in KIND_COLUMNS},
    }
    if plan is not None:
        firm = [p for p in plan.purchases if p.firm]
        row["purchases_now"] = len(firm)
        row["upfront_now_usd"] = round(float(sum(p.upfront_usd for p in firm)), 2)
        for model, col, attr in KIND_COLUMNS:
            total = sum(
                float(getattr(p.commitment, attr) or 0.0)
                for p in firm
                if p.commitment.purchase_model == model
            )
            row[col] = round(float(total), 3)
    return row


def comparison_frame(base: WhatIfResult, results: list[WhatIfResult]) -> pd.DataFrame:
    """One row per case, the baseline first then each what-if (:func:`case_figures`); two
    what-ifs of one name (or one named "baseline") are told apart by a suffix."""
    rows = [case_figures(base)]
    seen = {"baseline"}
    for r in results:
        row = case_figures(r)
        name, k = r.whatif.name, 2
        while name in seen:
            name = f"{r.whatif.name} ({k})"
            k += 1
        seen.add(name)
        row["what_if"] = name
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["purchases_now"] = frame["purchases_now"].astype("Int64")  # a count, or missing
    return frame
