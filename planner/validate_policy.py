"""Rules on a whole planning configuration, beyond each key's own type: :func:`check_config`.

Applied by :func:`planner.policy_file.config_from_dict` (the policy file, ``--set`` overrides and the
dedicated flags all pass through it), before any forecast. Errors raise
:class:`~pricing_data.errors.PlannerInputError` (exit code 2) naming the file, the key
(``section.key``), the value and the fix.

- every number is finite (TOML allows ``inf`` and ``nan``; a bound of ``nan`` would silently never
  bind);
- ``growth.annual_pct`` and each ``growth.steps[].pct`` are > −100 (−100 % per year is demand
  vanishing; below it the compound factor is negative or undefined) and at most
  :data:`MAX_GROWTH_PCT`; ``add_gpus`` is finite and its size plausible;
- ``planning.horizon_months`` is at most :data:`MAX_HORIZON_MONTHS` (10 years: no commitment is
  longer than 3 years, and the hourly scenarios grow with the horizon);
- ``growth.steps[].at`` lies in 2006..2100;
- ``planning.default_aws_region`` and each ``[[pools]]`` rule's ``aws_region`` are known AWS region
  codes (a typo would plan every pool in a region without offers).
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from pricing_data.errors import PlannerInputError, UnknownNameError

if TYPE_CHECKING:
    from planner.policy_file import PlanningConfig

MAX_HORIZON_MONTHS = 120
MAX_GROWTH_PCT = 1000.0
MAX_STEP_GPUS = 10_000_000.0


def _finite(name: str, value: Any, file: str) -> None:
    items = value if isinstance(value, tuple | list) else (value,)
    for v in items:
        if isinstance(v, float) and not math.isfinite(v):
            raise PlannerInputError(
                "must be a finite number",
                file=file,
                column=name,
                value=v,
                fix="write a plain number (inf and nan are not allowed), or leave the key out",
            )


def _growth_pct(name: str, pct: float, file: str) -> None:
    _finite(name, float(pct), file)
    if not -100.0 < pct <= MAX_GROWTH_PCT:
        raise PlannerInputError(
            f"growth must be above -100 % and at most {MAX_GROWTH_PCT:g} %",
            file=file,
            column=name,
            value=pct,
            fix="write a yearly percentage, e.g. 30 for +30 %/year or -20 for a decline",
        )


def check_aws_region(region: str, *, file: str | None, column: str) -> None:
    """``region`` is a known AWS region code, else an error with did-you-mean."""
    from forecasting.validate_usage import AWS_REGIONS

    if region not in AWS_REGIONS:
        raise UnknownNameError("AWS region", region, AWS_REGIONS, file=file, column=column)


def check_config(cfg: PlanningConfig, file: str) -> None:
    """The rules in the module docstring."""
    check_aws_region(cfg.default_aws_region, file=file, column="planning.default_aws_region")
    for i, rule in enumerate(cfg.pool_rules):
        if rule.aws_region:
            check_aws_region(rule.aws_region, file=file, column=f"pools[{i + 1}].aws_region")
    policy = cfg.policy
    for f in fields(policy):
        _finite(f.name, getattr(policy, f.name), file)
    if policy.horizon_months > MAX_HORIZON_MONTHS:
        raise PlannerInputError(
            f"the horizon is longer than {MAX_HORIZON_MONTHS} months",
            file=file,
            column="planning.horizon_months",
            value=policy.horizon_months,
            fix="plan at most 10 years ahead (e.g. 12, 24 or 36 months)",
        )
    _growth_pct("growth.annual_pct", cfg.growth.annual_pct, file)
    for i, step in enumerate(cfg.growth.steps):
        where = f"growth.steps[{i + 1}]"
        _growth_pct(f"{where}.pct", step.pct, file)
        _finite(f"{where}.add_gpus", step.add_gpus, file)
        if abs(step.add_gpus) > MAX_STEP_GPUS:
            raise PlannerInputError(
                "implausibly many GPUs in one growth step",
                file=file,
                column=f"{where}.add_gpus",
                value=step.add_gpus,
                fix="write the GPUs the step adds, e.g. 64",
            )
        if not 2006 <= step.at.year <= 2100:
            raise PlannerInputError(
                "date outside 2006..2100",
                file=file,
                column=f"{where}.at",
                value=str(step.at.date()),
                fix='write at = "2027-01-01"',
            )


#: The largest scenario array (scenarios x hours x pools float64) a run may allocate.
MAX_SCENARIO_BYTES = 2 * 1024**3


def check_forecast_size(
    n_scenarios: int, hours: int, n_pools: int, *, file: str | None = None
) -> None:
    """Refuse a forecast whose scenario array alone would exceed :data:`MAX_SCENARIO_BYTES`
    (the forecaster and the optimizer hold several arrays of that size)."""
    size = 8 * int(n_scenarios) * int(hours) * max(int(n_pools), 1)
    if size > MAX_SCENARIO_BYTES:
        per = MAX_SCENARIO_BYTES // (8 * max(int(hours), 1) * max(int(n_pools), 1))
        raise PlannerInputError(
            f"{n_scenarios:,} scenarios x {hours:,} hours x {n_pools} pools need "
            f"{size / 1024**3:,.1f} GiB for demand alone (limit {MAX_SCENARIO_BYTES / 1024**3:.0f} GiB)",
            file=file,
            column="scenarios",
            value=n_scenarios,
            fix=f"use at most {max(per, 1):,} scenarios at this horizon, or a shorter horizon",
        )
