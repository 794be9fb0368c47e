"""The planner: ``optimize(scenarios, offers, inventory, policy) -> Plan`` and the referee
``evaluate(commitments, demand, timestamps, pools, offers, policy)`` (DESIGN.md); the runs the
commands make are in :mod:`planner.workflows` (``load_inputs``, ``quarterly_plan``)."""

from planner.evaluate import evaluate
from planner.inventory import Commitment
from planner.optimize import optimize
from planner.plan import Plan
from planner.policy import Policy

__all__ = ["Commitment", "Plan", "Policy", "evaluate", "optimize"]
