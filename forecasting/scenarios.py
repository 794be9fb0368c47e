"""Demand pools and probabilistic demand scenarios: the values the forecaster hands to the optimizer.

A :class:`Pool` is a demand class the LP balances: a GPU type plus what may serve it
(``interruptible`` work may use spot; ``portable`` work may run off AWS, on CoreWeave or Lambda) and
the AWS region it runs in. :class:`DemandScenarios` holds ``demand_gpus[s, t, p]``: mean GPUs in use
in scenario ``s``, hour ``t`` (from ``start``, hourly, UTC) and pool ``p``, with scenario
probabilities summing to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pricing_data.errors import PlannerInputError


@dataclass(frozen=True)
class Pool:
    """A demand class: GPU type × flexibility (× home AWS region). ``spot_cap_share``: the policy's
    own spot availability cap for this pool (a ``[[pools]]`` rule's; None: derived by
    :meth:`planner.policy.Policy.spot_cap`); not part of the name."""

    gpu_type: str
    interruptible: bool = False
    portable: bool = False
    aws_region: str = "us-east-1"
    spot_cap_share: float | None = None
    scale_to_zero: bool = False  # may be served by serverless GPUs (planner.optimize.serverless)

    @property
    def name(self) -> str:
        flex = []
        if self.interruptible:
            flex.append("interruptible")
        if self.portable:
            flex.append("portable")
        if self.scale_to_zero:
            flex.append("scale-to-zero")
        return f"{self.gpu_type}/{'+'.join(flex) or 'fixed'}@{self.aws_region}"


@dataclass(frozen=True)
class DemandScenarios:
    """Hourly demand paths: ``demand_gpus`` has shape (n_scenarios, n_hours, n_pools)."""

    start: pd.Timestamp
    pools: tuple[Pool, ...]
    demand_gpus: np.ndarray
    probabilities: np.ndarray
    seed: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.demand_gpus
        if d.ndim != 3:
            raise PlannerInputError("demand must be scenario x hour x pool", value=d.shape)
        if d.shape[2] != len(self.pools):
            raise PlannerInputError(
                "demand has a different number of pools than the pool list",
                value=(d.shape[2], len(self.pools)),
            )
        if self.probabilities.shape != (d.shape[0],):
            raise PlannerInputError(
                "one probability per scenario is needed", value=self.probabilities.shape
            )
        if (
            not np.isclose(self.probabilities.sum(), 1.0, atol=1e-9)
            or (self.probabilities < 0).any()
        ):
            raise PlannerInputError("scenario probabilities must be >= 0 and sum to 1")
        if not np.isfinite(d).all() or (d < 0).any():
            raise PlannerInputError("demand must be finite and >= 0 GPUs")
        if len({p.name for p in self.pools}) != len(self.pools):
            raise PlannerInputError("pool names must be unique", value=[p.name for p in self.pools])

    @property
    def n_scenarios(self) -> int:
        return int(self.demand_gpus.shape[0])

    @property
    def n_hours(self) -> int:
        return int(self.demand_gpus.shape[1])

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.n_hours, freq="h", tz="UTC")

    def pool_index(self, name: str) -> int:
        for i, p in enumerate(self.pools):
            if p.name == name:
                return i
        raise PlannerInputError(
            f"unknown pool {name!r}", fix="use one of " + ", ".join(p.name for p in self.pools)
        )

    def quantiles(self, qs: tuple[float, ...] = (0.1, 0.5, 0.9)) -> np.ndarray:
        """Probability-weighted quantiles over scenarios: shape (len(qs), n_hours, n_pools)."""
        order = np.argsort(self.demand_gpus, axis=0)
        sorted_d = np.take_along_axis(self.demand_gpus, order, axis=0)
        w = self.probabilities[order]
        cum = np.cumsum(w, axis=0)
        out = np.empty((len(qs), self.n_hours, len(self.pools)))
        for i, q in enumerate(qs):
            idx = np.argmax(cum >= q - 1e-12, axis=0)
            out[i] = np.take_along_axis(sorted_d, idx[None], axis=0)[0]
        return out

    def expected(self) -> np.ndarray:
        """Expected demand per hour and pool: shape (n_hours, n_pools)."""
        return np.einsum("s,stp->tp", self.probabilities, self.demand_gpus)


def single_scenario(
    start: pd.Timestamp, pools: tuple[Pool, ...], demand_gpus: np.ndarray
) -> DemandScenarios:
    """One certain path (shape n_hours × n_pools), e.g. actual usage for a hindsight optimum."""
    d = np.asarray(demand_gpus, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    return DemandScenarios(start=start, pools=pools, demand_gpus=d[None], probabilities=np.ones(1))
