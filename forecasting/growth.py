"""User growth assumptions, as plain data: compound annual growth and dated steps.

``Growth(annual_pct=30)`` multiplies demand by ``(1 + 0.30)^(t / 8760 h)`` (t hours after the
forecast start; 8,760 h = 365 days, pricing_data.units.HOURS_PER_YEAR). A :class:`GrowthStep` at time ``at`` adds ``add_gpus`` GPUs
and/or multiplies by ``1 + pct/100`` from that hour on (a planned launch), for the pools it names
(pool names or GPU types; all pools when empty). Applied to every scenario path after simulation::

    Y'[s,t,p] = max(0, Y[s,t,p] · (1+g)^{t/8760} · Π_i (1 + pct_i·[t ≥ at_i]) + Σ_i add_i·[t ≥ at_i])

with ``Y ≥ 0`` the simulated path before growth.

This is *on top of* the trend the model learnt from history (the ``ets`` trend is damped, so it fades).

From TOML or JSON::

    [growth]
    annual_pct = 30
    [[growth.steps]]
    at = "2027-03-01"
    add_gpus = 64
    pools = ["H100"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.scenarios import Pool
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.units import HOURS_PER_YEAR


@dataclass(frozen=True)
class GrowthStep:
    """From ``at`` (UTC) on: ``+add_gpus`` GPUs and ``×(1 + pct/100)`` for the named pools."""

    at: pd.Timestamp
    add_gpus: float = 0.0
    pct: float = 0.0
    pools: tuple[str, ...] = ()

    def applies_to(self, pool: Pool) -> bool:
        if not self.pools:
            return True
        return any(s in (pool.name, pool.gpu_type) for s in self.pools)


@dataclass(frozen=True)
class Growth:
    """Compound ``annual_pct`` growth plus dated :class:`GrowthStep` s."""

    annual_pct: float = 0.0
    steps: tuple[GrowthStep, ...] = ()

    @classmethod
    def parse(cls, value: Growth | Mapping[str, Any] | float | None) -> Growth:
        """From a Growth, a mapping (TOML/JSON table), or a number (annual %)."""
        if value is None:
            return cls()
        if isinstance(value, Growth):
            return value
        if isinstance(value, int | float):
            return cls(annual_pct=float(value))
        if not isinstance(value, Mapping):
            raise PlannerInputError("growth must be a table", value=value)
        allowed = ("annual_pct", "steps")
        for key in value:
            if key not in allowed:
                raise UnknownNameError("growth key", str(key), allowed, column="growth")
        steps = []
        for i, s in enumerate(value.get("steps", []) or []):
            if not isinstance(s, Mapping):
                raise PlannerInputError("a growth step must be a table", row=i + 1, value=s)
            for key in s:
                if key not in ("at", "add_gpus", "pct", "pools"):
                    raise UnknownNameError(
                        "growth step key", str(key), ("at", "add_gpus", "pct", "pools"), row=i + 1
                    )
            try:
                at = pd.Timestamp(s["at"])
            except (KeyError, ValueError):
                raise PlannerInputError(
                    "a growth step needs a date 'at'",
                    row=i + 1,
                    column="at",
                    value=s.get("at"),
                    fix='write at = "2027-01-01"',
                ) from None
            at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
            pools = s.get("pools", ())
            steps.append(
                GrowthStep(
                    at=at,
                    add_gpus=float(s.get("add_gpus", 0.0)),
                    pct=float(s.get("pct", 0.0)),
                    pools=(pools,) if isinstance(pools, str) else tuple(pools),
                )
            )
        return cls(annual_pct=float(value.get("annual_pct", 0.0)), steps=tuple(steps))

    def is_identity(self) -> bool:
        return self.annual_pct == 0.0 and not self.steps

    def factors(
        self, timestamps: pd.DatetimeIndex, pools: Sequence[Pool]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(multiplier, addend), each (n_hours, n_pools), for the hours ``timestamps``."""
        n = len(timestamps)
        t_h = np.arange(n, dtype=float)
        base = (1.0 + self.annual_pct / 100.0) ** (t_h / HOURS_PER_YEAR)
        mult = np.repeat(base[:, None], len(pools), axis=1)
        add = np.zeros((n, len(pools)))
        for step in self.steps:
            on = np.asarray(timestamps >= step.at)
            for j, pool in enumerate(pools):
                if step.applies_to(pool):
                    mult[on, j] *= 1.0 + step.pct / 100.0
                    add[on, j] += step.add_gpus
        return mult, add
