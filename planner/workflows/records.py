"""Typed records of how a plan was made, stored in plan.json under ``record``.

- :class:`SolveRecord` — what the optimizer did (solver, method, status, times, seed, catalogs):
  the keys :func:`planner.optimize.optimize` writes at the top of ``Plan.record``.
- :class:`RunRecord` — what the quarterly run used (files, configuration, inventory, catalogs,
  forecast models, the strategy comparison): ``Plan.record["run"]``. ``planner attribute``
  re-creates the run's scenarios from it.

Both read old and new plan.json files alike: a missing key takes its default.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.inventory import Commitment, inventory_frame, parse_inventory
from planner.plan import Plan
from planner.policy_file import PlanningConfig, config_from_dict, config_to_doc
from pricing_data.errors import PlannerInputError


@dataclass(frozen=True)
class SolveRecord:
    """The optimizer's own record (a typed view of the top keys of ``Plan.record``)."""

    solver: str = ""
    method: str = ""
    status: str = ""
    gap: float | None = None
    objective_usd: float | None = None
    build_time_s: float = 0.0
    solve_time_s: float = 0.0
    savings_curve_time_s: float = 0.0
    total_time_s: float = 0.0
    seed: int | None = None
    as_of: str | None = None
    catalog_versions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, plan: Plan) -> SolveRecord:
        rec = plan.record
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in rec and rec[f.name] is not None:
                v = rec[f.name]
                kw[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)

    def line(self) -> str:
        """One line for the terminal: solver, method, status and time."""
        return (
            f"solver {self.solver} ({self.method}), status {self.status}, {self.solve_time_s} s; "
            f"catalogs: {', '.join(self.catalog_versions)}"
        )


@dataclass(frozen=True)
class RunRecord:
    """What a quarterly run used and found (``Plan.record["run"]``)."""

    usage_file: str
    inventory_file: str | None
    config: dict[str, Any]
    policy_doc: dict[str, Any]
    inventory: list[dict[str, Any]]
    effective_policy: dict[str, Any]
    catalog_versions: list[str]
    overlay: str | None
    forecast_models: dict[str, str]
    comparison: list[dict[str, Any]]
    upfront_now_usd: float
    defaults_used: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        *,
        usage_file: str,
        inventory_file: str | None,
        config: PlanningConfig,
        inventory: tuple[Commitment, ...] | list[Commitment],
        effective_policy: dict[str, Any],
        catalog_versions: tuple[str, ...] | list[str],
        overlay: str | None,
        forecast_models: dict[str, str],
        comparison: pd.DataFrame,
        upfront_now_usd: float,
        defaults_used: list[str] | None = None,
    ) -> RunRecord:
        return cls(
            usage_file=usage_file,
            inventory_file=inventory_file,
            config=config.to_dict(),
            policy_doc=config_to_doc(config),
            inventory=_records(inventory_frame(list(inventory))),
            effective_policy=effective_policy,
            catalog_versions=list(catalog_versions),
            overlay=overlay,
            forecast_models=dict(forecast_models),
            comparison=_records(comparison),
            upfront_now_usd=float(upfront_now_usd),
            defaults_used=list(defaults_used or []),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, plan: Plan, file: str = "plan.json") -> RunRecord:
        """The run record of a saved plan; a plan without one is a usage error naming the file."""
        run = plan.record.get("run")
        if not isinstance(run, dict) or "policy_doc" not in run:
            raise PlannerInputError(
                "the plan does not record how it was made",
                file=file,
                fix="re-run `planner plan` with this version to get a plan.json with its run record",
            )
        known = {f.name for f in fields(cls)}
        defaults: dict[str, Any] = {
            "usage_file": "",
            "inventory_file": None,
            "config": {},
            "inventory": [],
            "effective_policy": {},
            "catalog_versions": [],
            "overlay": None,
            "forecast_models": {},
            "comparison": [],
            "upfront_now_usd": 0.0,
        }
        return cls(**{**defaults, **{k: v for k, v in run.items() if k in known}})

    def planning_config(self, file: str = "plan.json") -> PlanningConfig:
        """The planning configuration the run used."""
        return config_from_dict(self.policy_doc, f"{file} (recorded policy)")

    def commitments(self, file: str = "plan.json") -> list[Commitment]:
        """The inventory the run used."""
        if not self.inventory:
            return []
        return parse_inventory(pd.DataFrame(self.inventory), f"{file} (recorded inventory)")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def with_run_record(plan: Plan, record: RunRecord) -> Plan:
    """``plan`` with ``record`` stored under ``Plan.record["run"]``."""
    return replace(plan, record={**plan.record, "run": record.to_dict()})


def read_plan(path: str | Path) -> Plan:
    """A Plan from its plan.json; a missing or broken file is a usage error naming the file."""
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError(
            "plan file not found", file=str(path), fix="run `planner plan` first, or check the path"
        )
    try:
        return Plan.from_json(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise PlannerInputError(
            f"not a plan.json written by `planner plan` ({type(e).__name__}: {e})",
            file=str(path),
            fix="give the plan.json from a `planner plan` output folder",
        ) from None
