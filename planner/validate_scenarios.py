"""Rules for a demand-scenarios file made elsewhere (:mod:`planner.optimize.scenarios_file`):
:func:`check_scenario_arrays`, applied before the arrays become
:class:`~forecasting.scenarios.DemandScenarios` (which itself requires finite demand >= 0 and
probabilities summing to 1).

- every array holds plain numbers, booleans or strings (an object array needs pickle, which is
  never loaded);
- ``gpu_type`` names a known GPU type (or ``other:<label>``), ``aws_region`` a known AWS region;
- demand is at most :data:`MAX_GPUS` GPUs per pool and hour (the usage rule) and the file holds at
  most :data:`MAX_CELLS` values (scenarios x hours x pools).
"""

from __future__ import annotations

import numpy as np

from forecasting.validate_usage import AWS_REGIONS, MAX_GPUS_PER_ROW
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import CANONICAL_GPU_TYPES, resolve_gpu_type

MAX_GPUS = MAX_GPUS_PER_ROW
MAX_CELLS = 2 * 1024**3 // 8


def check_scenario_arrays(
    demand_gpus: np.ndarray, gpu_types: np.ndarray, aws_regions: np.ndarray, file: str
) -> None:
    """The rules in the module docstring; raises :class:`PlannerInputError` naming the array."""
    if demand_gpus.size > MAX_CELLS:
        raise PlannerInputError(
            f"{demand_gpus.size:,} demand values is more than the planner holds ({MAX_CELLS:,})",
            file=file,
            column="demand_gpus",
            value=demand_gpus.shape,
            fix="use fewer scenarios or a shorter horizon",
        )
    finite = demand_gpus[np.isfinite(demand_gpus)]
    if finite.size and finite.max() > MAX_GPUS:
        raise PlannerInputError(
            f"demand above {MAX_GPUS:,.0f} GPUs in one pool and hour",
            file=file,
            column="demand_gpus",
            value=float(finite.max()),
            fix="check the unit: mean GPUs in use per hour",
        )
    for g in gpu_types:
        s = str(g)
        if not s.startswith("other:") and resolve_gpu_type(s) is None:
            raise UnknownNameError("GPU type", s, CANONICAL_GPU_TYPES, file=file, column="gpu_type")
    for r in aws_regions:
        if str(r) not in AWS_REGIONS:
            raise UnknownNameError(
                "AWS region", str(r), AWS_REGIONS, file=file, column="aws_region"
            )
