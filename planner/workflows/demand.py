"""Usage and demand without prices: what ``planner usage`` and ``planner forecast`` run.

:func:`load_usage` reads a usage file with the ingestion options and groups it into pools (the first
steps of :func:`planner.workflows.inputs.load_inputs`); :func:`forecast_demand` forecasts the pools
over a horizon written as a duration (``12mo``, ``90d``), with growth from a file and/or a rate.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from forecasting import Forecast, PooledUsage, UsageHistory, forecast, make_pools, read_usage
from forecasting.billing_sql import TagPolicy, policy_tags
from forecasting.models import MODELS
from forecasting.pools import PoolRule, load_pool_rules
from forecasting.usage import TAG_COLUMNS
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.units import parse_duration

MAX_HORIZON_MONTHS = 36
OnDuplicate = Literal["error", "sum", "mean", "last"]
GapFill = Literal["interpolate", "zero", "previous_week"]


@dataclass(frozen=True)
class UsageReadOptions:
    """How a usage file is read: duplicate rows, gap filling, GPU label aliases, pool rules."""

    on_duplicate: OnDuplicate = "error"
    gap_fill: GapFill = "interpolate"
    gpu_aliases: Mapping[str, str] = field(default_factory=dict)
    pool_rules: tuple[PoolRule, ...] = ()
    default_aws_region: str = "us-east-1"
    #: keep only the tags (and values) the pool rules look at (None: every tag), so a billing
    #: export's reduction stays small whatever the number of tag values
    tags: Mapping[str, Any] | TagPolicy | None = None

    @classmethod
    def from_flags(
        cls,
        *,
        policy: str | None = None,
        on_duplicate: str = "error",
        gap_fill: str = "interpolate",
        gpu_aliases: Sequence[str] = (),
        pools_only: bool = False,
    ) -> UsageReadOptions:
        rules = tuple(load_pool_rules(policy)) if policy else ()
        return cls(
            on_duplicate=on_duplicate,  # type: ignore[arg-type]
            gap_fill=gap_fill,  # type: ignore[arg-type]
            gpu_aliases=parse_gpu_aliases(gpu_aliases),
            pool_rules=rules,
            tags=policy_tags(rules, TAG_COLUMNS) if pools_only else None,
        )


def parse_gpu_aliases(values: Sequence[str]) -> dict[str, str]:
    """``LABEL=TYPE`` pairs from ``--gpu-alias``."""
    out = {}
    for v in values:
        if "=" not in v:
            raise PlannerInputError(
                "not LABEL=TYPE",
                column="--gpu-alias",
                value=v,
                fix="write e.g. --gpu-alias GPU-series-1=other:series-1",
            )
        k, t = v.split("=", 1)
        out[k.strip()] = t.strip()
    return out


def load_usage(
    path: str | Path, options: UsageReadOptions | None = None
) -> tuple[UsageHistory, PooledUsage | None]:
    """The usage history and its pools (None when the file holds no GPU usage)."""
    opts = options or UsageReadOptions()
    history = read_usage(
        path,
        on_duplicate=opts.on_duplicate,
        gpu_aliases=dict(opts.gpu_aliases),
        tags=opts.tags,
    )
    if history.data.empty:
        return history, None
    pooled = make_pools(
        history,
        opts.pool_rules,
        default_aws_region=opts.default_aws_region,
        gap_fill=opts.gap_fill,
    )
    return history, pooled


def read_growth(path: str | Path) -> dict[str, Any]:
    """The ``[growth]`` table of a TOML file (see :mod:`forecasting.growth`)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlannerInputError("growth file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as e:
        raise PlannerInputError(f"not valid TOML: {e}", file=str(path)) from None
    table = data.get("growth")
    if not isinstance(table, dict):
        raise PlannerInputError(
            "no [growth] table",
            file=str(path),
            fix="write [growth] with annual_pct = 30 and/or [[growth.steps]] tables",
        )
    return table


def horizon_from_text(text: str, start: pd.Timestamp) -> int:
    """Forecast hours from a duration (``12mo`` counts calendar months from ``start``)."""
    d = parse_duration(text, column="--horizon")
    months = d.value * 12 if d.unit == "y" else d.value if d.unit == "mo" else 0
    hours = d.hours(start, column="--horizon")
    if hours < 1 or months > MAX_HORIZON_MONTHS or hours > MAX_HORIZON_MONTHS * 744:
        raise PlannerInputError(
            "horizon out of range",
            column="--horizon",
            value=text,
            fix=f"forecast between 1 hour and {MAX_HORIZON_MONTHS} months ahead",
        )
    return hours


def forecast_demand(
    pooled: PooledUsage,
    *,
    horizon: str,
    n_scenarios: int,
    seed: int,
    growth_pct: float = 0.0,
    growth_file: str | Path | None = None,
    models: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> Forecast:
    """Forecast ``pooled`` over ``horizon`` with growth from ``growth_file`` and ``growth_pct``
    (annual compound growth, percent per year, on top of the forecast)."""
    for m in models:
        if m not in MODELS:
            raise UnknownNameError("model", m, MODELS, column="--model")
    hours = horizon_from_text(horizon, pooled.end + pd.Timedelta(hours=1))
    growth = read_growth(growth_file) if growth_file else {}
    if growth_pct:
        growth = {**growth, "annual_pct": growth_pct}
    return forecast(
        pooled,
        horizon_hours=hours,
        n_scenarios=n_scenarios,
        seed=seed,
        growth=growth or None,
        models=list(models) or None,
        progress=progress,
    )
