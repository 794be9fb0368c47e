"""The referee: the bill of fixed commitments on one demand path, strategies compared on many, the
policy's bounds checked on the bill, and the month-by-month cash-flow schedule."""

from planner.evaluate.bill import (
    Evaluation,
    ServingPrices,
    Tariff,
    Terms,
    bill,
    evaluate,
    serving_prices,
    tariff,
)
from planner.evaluate.bounds import BoundCheck, check_bounds, weighted_cvar
from planner.evaluate.cashflow import CASHFLOW_COLUMNS, cashflow_schedule
from planner.evaluate.compare import (
    ALL_ON_DEMAND,
    FIRM_ONLY,
    INVENTORY_ONLY,
    THIS_PLAN,
    StrategyFigures,
    compare_strategies,
    evaluate_over_scenarios,
)

__all__ = [
    "ALL_ON_DEMAND",
    "CASHFLOW_COLUMNS",
    "FIRM_ONLY",
    "INVENTORY_ONLY",
    "THIS_PLAN",
    "BoundCheck",
    "Evaluation",
    "ServingPrices",
    "StrategyFigures",
    "Tariff",
    "Terms",
    "bill",
    "cashflow_schedule",
    "check_bounds",
    "compare_strategies",
    "evaluate",
    "evaluate_over_scenarios",
    "serving_prices",
    "tariff",
    "weighted_cvar",
]
