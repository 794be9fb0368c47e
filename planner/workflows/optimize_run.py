"""The optimizer on its own (``planner optimize``): demand scenarios from a file, or forecast from a
usage file through :func:`~planner.workflows.inputs.load_inputs`, then one optimisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.inventory import read_inventory
from planner.optimize import optimize
from planner.optimize.scenarios_file import read_scenarios
from planner.plan import Plan
from planner.policy_file import PlanningConfig
from planner.purchase_values import value_purchases, whole_term_paths
from planner.workflows.inputs import check_inventory_offers, load_inputs
from pricing_data.catalog import load_catalog
from pricing_data.errors import PlannerInputError


@dataclass(frozen=True)
class OptimizeRequest:
    """Where the scenarios come from: a scenarios file (.npz) or a usage file to forecast."""

    scenarios_file: str | None = None
    usage_file: str | None = None
    inventory_file: str | None = None

    def check(self) -> OptimizeRequest:
        if (self.scenarios_file is None) == (self.usage_file is None):
            raise PlannerInputError(
                "give exactly one of --scenarios-file and --usage",
                fix="pass --scenarios-file FILE.npz, or --usage FILE to forecast scenarios",
            )
        return self


def optimize_request(
    request: OptimizeRequest,
    config: PlanningConfig,
    *,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Choose commitments for the request's scenarios under ``config`` (module docstring)."""
    request.check()
    if request.usage_file is not None:
        inputs = load_inputs(request.usage_file, config, request.inventory_file, progress=progress)
        scenarios = inputs.forecast(progress).scenarios
        offers, inventory = inputs.catalog.offers, list(inputs.inventory)
    else:
        scenarios = read_scenarios(str(request.scenarios_file))
        inventory = read_inventory(request.inventory_file) if request.inventory_file else []
        catalog = load_catalog(as_of=config.catalog_as_of, overlay=config.overlay)
        check_inventory_offers(inventory, catalog)
        offers = catalog.offers
    plan = optimize(scenarios, offers, inventory, config.policy, progress=progress)
    # every purchase valued on the evaluator: the same purchases.csv contract as `planner plan`
    paths = whole_term_paths(scenarios, config.policy, inventory, offers)
    return value_purchases(plan, paths, offers, inventory, config.policy, progress=progress)
