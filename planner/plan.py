"""The Plan: what to buy (now, firm; later quarters, tentative), what it is expected to cost, how
risky it is, and how it was computed. A plain frozen value with a JSON round trip, except while
its savings curves are left for later (``curves_later``, :func:`planner.optimize.with_savings_curves`:
it then holds its LP, is not picklable, and the pending curves are not in its JSON).

Per purchase (the purchases.csv contract: docs/purchases-csv.md)
    As the optimizer leaves them, ``expected_utilization`` / ``p10_utilization`` (0-1) are the
    LP's; ``expected_savings_usd`` the LP's in-horizon saving; ``breakeven_utilization``:
    commitment price per GPU-hour ÷ the on-demand price it displaces. The quarterly run then
    values every purchase on the evaluator (planner.purchase_values): utilisation over the
    evaluator's paths (mean, and the probability-weighted 10th percentile),
    ``expected_savings_usd`` / ``npv_savings_usd`` its marginal value (the plan's bill without
    it minus with it), ``breakeven_months`` the months until its cumulative cash saving turns
    positive (None: not within the term), ``npv_cost_usd`` the present value of its payments,
    ``price_basis`` (published, assumed, overlay) and ``required_by`` (the bound that keeps a
    purchase whose marginal value is not positive). ``decision`` is ``now`` (firm) or ``ladder``;
    ``term_obligation_usd`` = upfront + recurring × term months.
Plan figures
    ``expected_cost_usd`` by component: ``commitments`` (RIs and Savings Plans, existing and new),
    ``contracts`` (CoreWeave/Lambda reserved), ``on_demand``, ``spot``, ``egress``, ``total``; and
    ``existing_sunk`` (the part of commitments and contracts already owned). ``coverage``: share of
    demand GPU-hours served by commitments. ``utilization``: used ÷ total commitment spend. ``esr``:
    1 − cost ÷ on-demand-equivalent cost. ``waste_usd``: expected unused commitment spend.
    ``headline``: the decision's figures from the evaluator (planner.decision), empty until the
    quarterly run fills it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

from planner.inventory import Commitment

PURCHASE_COLUMNS = (
    "purchase_id",
    "decision",
    "provider",
    "purchase_model",
    "region",
    "sku",
    "gpu_type",
    "offering_class",
    "term_months",
    "payment_option",
    "quantity",
    "quantity_unit",
    "hourly_commitment_usd",
    "upfront_usd",
    "recurring_monthly_usd",
    "term_obligation_usd",
    "npv_cost_usd",
    "start_date",
    "end_date",
    "price_basis",
    "expected_utilization_pct",
    "p10_utilization_pct",
    "expected_savings_usd",
    "npv_savings_usd",
    "breakeven_months",
    "required_by",
)
PRICE_BASES = ("published", "assumed", "overlay")
COST_COMPONENTS = ("commitments", "contracts", "on_demand", "spot", "egress")


@dataclass(frozen=True)
class Purchase:
    """One recommended purchase and the figures that explain it."""

    commitment: Commitment
    firm: bool
    gpu_type: str
    upfront_usd: float
    recurring_monthly_usd: float
    expected_utilization: float
    p10_utilization: float
    expected_savings_usd: float
    breakeven_months: float | None
    breakeven_utilization: float | None
    npv_cost_usd: float | None = None
    npv_savings_usd: float | None = None
    price_basis: str = ""
    required_by: str = ""

    @property
    def decision(self) -> str:
        """``now`` (firm: buy this quarter) or ``ladder`` (tentative, revisited next quarter)."""
        return "now" if self.firm else "ladder"

    @property
    def quantity_unit(self) -> str:
        """What ``quantity`` counts: ``instances`` (RIs), ``gpus`` (contracts), empty (Savings
        Plans, bought in USD per hour)."""
        if self.commitment.is_savings_plan:
            return ""
        return "gpus" if self.commitment.purchase_model == "reserved_contract" else "instances"

    @property
    def term_obligation_usd(self) -> float:
        """Everything the purchase commits to over its whole term: upfront + monthly recurring ×
        term months (the catalog's 730-hour month)."""
        return self.upfront_usd + self.recurring_monthly_usd * self.commitment.term_months


@dataclass(frozen=True)
class Plan:
    """The optimizer's answer (module docstring)."""

    purchases: tuple[Purchase, ...]
    expected_cost_usd: dict[str, float]
    cost_per_scenario_usd: tuple[float, ...]
    on_demand_equivalent_usd: float
    coverage: float
    utilization: float
    esr: float
    waste_usd: float
    savings_curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    start: str = ""
    horizon_hours: int = 0
    pools: tuple[str, ...] = ()
    # whole term (planner/valuation.py): the referee's bill to the end of the longest term bought
    valuation_hours: int = 0
    discount_rate_pct: float = 0.0
    whole_term: dict[str, float] = field(default_factory=dict)  # NPV and undiscounted figures
    bounds: tuple[dict[str, Any], ...] = ()  # {name, limit, realised, held, unit, sense}
    cashflow: tuple[dict[str, Any], ...] = ()  # planner.evaluate.cashflow rows
    headline: dict[str, Any] = field(default_factory=dict)
    #: the savings curves still to draw (planner.optimize.with_savings_curves); not saved
    curves_later: Callable[[], dict[str, list[dict[str, Any]]]] | None = field(
        default=None, repr=False, compare=False, metadata={"transient": True}
    )

    @property
    def firm(self) -> tuple[Purchase, ...]:
        return tuple(p for p in self.purchases if p.firm)

    def commitments(self, *, firm_only: bool = False) -> list[Commitment]:
        return [p.commitment for p in self.purchases if p.firm or not firm_only]

    def purchases_frame(self, *, firm_only: bool = False) -> pd.DataFrame:
        """The procurement file (docs/purchases-csv.md): one row per purchase, columns
        PURCHASE_COLUMNS; ``firm_only`` keeps the purchases to make now."""
        rows = [purchase_row(p) for p in self.purchases if p.firm or not firm_only]
        df = pd.DataFrame(rows, columns=list(PURCHASE_COLUMNS))
        for col in _OPTIONAL_NUMBERS:
            df[col] = df[col].astype("Float64")
        df["term_months"] = df["term_months"].astype("Int64")
        return df

    def summary_frame(self) -> pd.DataFrame:
        """The headline figures, one row each (for the terminal)."""
        items = [(f"expected cost: {k}", v) for k, v in self.expected_cost_usd.items()]
        items += [
            ("on-demand equivalent cost", self.on_demand_equivalent_usd),
            ("coverage %", 100 * self.coverage),
            ("commitment utilisation %", 100 * self.utilization),
            ("effective savings rate %", 100 * self.esr),
            ("expected commitment waste", self.waste_usd),
        ]
        return pd.DataFrame(items, columns=["figure", "value"])

    # ---- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.metadata.get("transient"):
                continue
            v = getattr(self, f.name)
            if f.name == "purchases":
                v = [_purchase_to_dict(p) for p in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return _clean(out)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        kw = dict(data)
        kw["purchases"] = tuple(_purchase_from_dict(p) for p in data["purchases"])
        kw["cost_per_scenario_usd"] = tuple(data["cost_per_scenario_usd"])
        kw["pools"] = tuple(data.get("pools", ()))
        kw["bounds"] = tuple(data.get("bounds", ()))
        kw["cashflow"] = tuple(data.get("cashflow", ()))
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))


_OPTIONAL_NUMBERS = (
    "quantity",
    "hourly_commitment_usd",
    "npv_cost_usd",
    "npv_savings_usd",
    "breakeven_months",
)


def _maybe(v: float | None, nd: int) -> float | None:
    return None if v is None or not math.isfinite(v) else float(round(v, nd))


def purchase_row(p: Purchase) -> dict[str, Any]:
    """One purchases.csv row (docs/purchases-csv.md)."""
    c = p.commitment
    sp = c.is_savings_plan
    return {
        "purchase_id": c.commitment_id,
        "decision": p.decision,
        "provider": c.provider,
        "purchase_model": c.purchase_model,
        "region": c.region,
        "sku": c.sku,
        "gpu_type": p.gpu_type,
        "offering_class": c.offering_class,
        "term_months": int(c.term_months),
        "payment_option": c.payment_option,
        "quantity": None if sp else _round(c.quantity, 3),
        "quantity_unit": p.quantity_unit,
        "hourly_commitment_usd": _round(c.hourly_commitment_usd, 3) if sp else None,
        "upfront_usd": round(p.upfront_usd, 2),
        "recurring_monthly_usd": round(p.recurring_monthly_usd, 2),
        "term_obligation_usd": round(p.term_obligation_usd, 2),
        "npv_cost_usd": _maybe(p.npv_cost_usd, 2),
        "start_date": c.start.date().isoformat(),
        "end_date": c.end.date().isoformat(),
        "price_basis": p.price_basis,
        "expected_utilization_pct": round(100 * p.expected_utilization, 2),
        "p10_utilization_pct": round(100 * p.p10_utilization, 2),
        "expected_savings_usd": round(p.expected_savings_usd, 2),
        "npv_savings_usd": _maybe(p.npv_savings_usd, 2),
        "breakeven_months": _maybe(p.breakeven_months, 2),
        "required_by": p.required_by,
    }


def _round(v: float, nd: int) -> float:
    return float(round(v, nd))


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str):
        return _clean(v.item())
    return v


def _purchase_to_dict(p: Purchase) -> dict[str, Any]:
    d = asdict(p)
    c = asdict(p.commitment)
    c["start"] = p.commitment.start.isoformat()
    c["end"] = p.commitment.end.isoformat()
    d["commitment"] = c
    return d


def _purchase_from_dict(d: dict[str, Any]) -> Purchase:
    c = dict(d["commitment"])
    c["start"] = pd.Timestamp(c["start"])
    c["end"] = pd.Timestamp(c["end"])
    kw = dict(d)
    kw["commitment"] = Commitment(**c)
    return Purchase(**kw)
