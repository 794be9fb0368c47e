"""Usage ingestion and probabilistic GPU demand forecasting.

Public API (other packages call only these):

- ``read_usage(path, *, catalog=None, on_duplicate="error", outage_min_hours=12,
  outage_fraction=0.05, gpu_aliases=None) -> UsageHistory`` — tidy CSV/Parquet, FOCUS 1.0–1.2, AWS
  CUR legacy and 2.0 (CSV or Parquet), detected from the columns. :class:`UsageHistory` holds
  ``data`` (long: ``timestamp`` UTC hourly, ``gpu_type``, ``gpus``, ``provider``, ``region``,
  the tag columns ``team, project, environment, model, experiment, workload``; billing sources add
  ``paid_as`` ∈ on_demand/spot/reserved_instance/savings_plan and ``instance_type``) and ``report``
  (:class:`ValidationReport`: gaps, duplicates, outages, warnings).
- ``PoolRule(match={...}, interruptible=False, portable=False, aws_region=None)``,
  ``load_pool_rules(path_or_mapping)`` and
  ``make_pools(history, rules, default_aws_region="us-east-1", *, gap_fill="interpolate")
  -> PooledUsage`` (``demand_gpus``: hourly DatetimeIndex × pool names; ``pools``: tuple of
  :class:`Pool`; outage and gap masks; ``paid_as`` totals).
- ``forecast(pooled, *, horizon_hours, n_scenarios=100, seed=0, growth=None, models=None,
  n_origins=5, step_h=84, progress=None) -> Forecast`` (``.scenarios``: :class:`DemandScenarios`
  starting the hour after history ends, equal probabilities; ``.metrics``: per pool the chosen model,
  backtest MASE and MAE relative to seasonal naive, the level-uncertainty parameters; ``.backtests``:
  every candidate's scores; ``.point_gpus``; ``.quantiles()``, ``.monthly_summary()``). Models
  (:data:`MODELS`): ``snaive24``, ``snaive168``, ``smean168``, ``ets``, ``mstl_arima``, ``combo``.
  ``growth`` is a :class:`Growth`, a number (annual %), or a mapping
  ``{"annual_pct": 30, "steps": [{"at": "2027-01-01", "add_gpus": 64, "pools": ["H100"]}]}``.
- ``read_focus_commitments(path) -> pandas.DataFrame``: commitments seen in a FOCUS export, one row
  per ``commitment_discount_id`` with ``category, status, type, provider, region, sku, first_seen,
  last_seen, usage_lines, billed_cost``.

Errors in user input raise :class:`pricing_data.errors.PlannerInputError` (or ``UnknownNameError``
with did-you-mean suggestions) naming file, row, column, value and the fix.

Modules: :mod:`~forecasting.usage` (tidy files, validation), :mod:`~forecasting.billing` (FOCUS, CUR),
:mod:`~forecasting.pools`, :mod:`~forecasting.models` (the model contract and the error model, with
the maths), :mod:`~forecasting.forecast` (backtest, choice, scenarios), :mod:`~forecasting.growth`,
:mod:`~forecasting.scenarios` (the output contract), :mod:`~forecasting.plots`.
"""

from __future__ import annotations

from forecasting.billing import read_focus_commitments
from forecasting.forecast import Forecast, backtest, forecast
from forecasting.growth import Growth, GrowthStep
from forecasting.models import MODELS, DemandModel
from forecasting.pools import PooledUsage, PoolRule, load_pool_rules, make_pools
from forecasting.scenarios import DemandScenarios, Pool
from forecasting.usage import (
    PAID_AS,
    TAG_COLUMNS,
    UsageHistory,
    ValidationReport,
    read_usage,
)

__all__ = [
    "MODELS",
    "PAID_AS",
    "TAG_COLUMNS",
    "DemandModel",
    "DemandScenarios",
    "Forecast",
    "Growth",
    "GrowthStep",
    "Pool",
    "PoolRule",
    "PooledUsage",
    "UsageHistory",
    "ValidationReport",
    "backtest",
    "forecast",
    "load_pool_rules",
    "make_pools",
    "read_focus_commitments",
    "read_usage",
]
