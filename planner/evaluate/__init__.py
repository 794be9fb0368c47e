"""The referee: the bill of fixed commitments on one demand path, and strategies compared on many."""

from planner.evaluate.bill import Evaluation, evaluate, serving_prices
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
    "FIRM_ONLY",
    "INVENTORY_ONLY",
    "THIS_PLAN",
    "Evaluation",
    "StrategyFigures",
    "compare_strategies",
    "evaluate",
    "evaluate_over_scenarios",
    "serving_prices",
]
