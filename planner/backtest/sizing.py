r"""Sizing rules, chosen per pool by their own rolling-origin cost record.

As the forecaster picks a model per pool by rolling-origin error, the planner picks, per pool, the
demand input from which the LP sizes commitments, by rolling-origin cost billed by the evaluator:

``lp-calibrated``  the forecast's decision scenarios (out-of-sample error scenarios,
                   :mod:`forecasting.error_scenarios`), with the policy's risk bounds;
``lp-point``       the point forecast as one certain scenario (no risk bound: nothing to bound);
``trailing-L``     the last ``L`` ∈ {7, 30, 60} days of usage repeated over the horizon, as one
                   certain scenario: Cost Explorer's assumption, sized jointly by the LP.

**Record.** At each past origin ``o`` (where the window ``[o, o + W)`` has ended), for each pool
``j`` and rule ``R``: the LP is solved with pool ``j`` on rule ``R`` and the other pools on the
default rule, and its purchases (with what was already held) are billed by the evaluator on the
actual usage of the window: ``C_{o,j,R}``. The rule's regret there is
``C_{o,j,R} / min_R' C_{o,j,R'} − 1`` (relative to the best rule at that origin).

**Choice.** Per pool, the rule with the lowest mean regret over the last ``n`` records (default 8);
ties go to the earlier rule of :data:`SIZING_RULES`; with no record yet, ``lp-calibrated``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SIZING_RULES: tuple[str, ...] = (
    "lp-calibrated",
    "lp-point",
    "trailing-30",
    "trailing-60",
    "trailing-7",
)
DEFAULT_RULE = "lp-calibrated"
H_DAY = 24


def trailing_days(rule: str) -> int | None:
    """``trailing-L`` → L; other rules → None."""
    return int(rule.split("-", 1)[1]) if rule.startswith("trailing-") else None


def rule_demand(
    rule: str,
    scenarios_gpus: np.ndarray,
    probabilities: np.ndarray,
    point_gpus: np.ndarray,
    history_gpus: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The demand input of one pool under ``rule``: (paths (S, H), probabilities (S,)).

    ``scenarios_gpus`` (S, H) and ``point_gpus`` (H,) are the forecast's for the pool;
    ``history_gpus`` its hourly usage before the origin (oldest first).
    """
    horizon = scenarios_gpus.shape[1]
    if rule == "lp-calibrated":
        return scenarios_gpus, probabilities
    if rule == "lp-point":
        return np.asarray(point_gpus, dtype=float)[None, :horizon], np.ones(1)
    days = trailing_days(rule)
    if days is None:
        raise ValueError(f"unknown sizing rule {rule!r}")
    look = history_gpus[-min(history_gpus.size, days * H_DAY) :]
    # end-aligned: hour h of the horizon repeats the lookback hour at the same position in its cycle
    reps = np.resize(look, horizon) if look.size else np.zeros(horizon)
    return reps[None, :], np.ones(1)


def combine(inputs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Pools' inputs → (S, H, P) demand and probabilities. Pools on a certain (one-path) rule
    repeat their path in every scenario of the pools on scenarios (all of which share the forecast's
    scenarios and probabilities)."""
    n_s = max(d.shape[0] for d, _ in inputs)
    probs = next((p for d, p in inputs if d.shape[0] == n_s), np.ones(1))
    cols = [np.broadcast_to(d, (n_s, d.shape[1])) if d.shape[0] == 1 else d for d, _ in inputs]
    return np.stack(cols, axis=2), probs


@dataclass
class RuleRecord:
    """Costs of every (pool, rule) at past origins: ``costs[(origin_h, pool)][rule]`` in USD."""

    costs: dict[tuple[int, str], dict[str, float]] = field(default_factory=dict)

    def add(self, origin_h: int, pool: str, rule: str, cost_usd: float) -> None:
        self.costs.setdefault((origin_h, pool), {})[rule] = cost_usd

    def regrets(self, pool: str, before_h: int, last: int) -> dict[str, list[float]]:
        """Per rule, its regret (%) at the last ``last`` origins of ``pool`` before ``before_h``."""
        keys = sorted(o for (o, p) in self.costs if p == pool and o < before_h)[-last:]
        out: dict[str, list[float]] = {}
        for o in keys:
            c = self.costs[(o, pool)]
            best = min(c.values())
            for rule, v in c.items():
                out.setdefault(rule, []).append(100.0 * (v / best - 1.0) if best > 0 else 0.0)
        return out

    def choose(self, pool: str, before_h: int, last: int = 8) -> tuple[str, dict[str, float]]:
        """The rule with the lowest mean regret (module docstring) and every rule's mean."""
        reg = self.regrets(pool, before_h, last)
        means = {r: float(np.mean(v)) for r, v in reg.items() if v}
        if not means:
            return DEFAULT_RULE, {}
        best = min(
            (r for r in SIZING_RULES if r in means),
            key=lambda r: (round(means[r], 9), SIZING_RULES.index(r)),
        )
        return best, means
