"""The policy's ``[serverless]`` section: how pools marked ``scale_to_zero`` may use serverless GPUs.

::

    [serverless]
    providers = ["modal", "replicate"]   # serverless providers allowed (cheapest per GPU type wins)
    hybrid = true                 # a held base with bursts to serverless (false: all or nothing)
    min_warm_gpus = 0             # all-serverless pools keep this many GPUs warm, billed every hour
    pin_region = false            # true: the catalog's pinned-region multiplier applies
    # cold_start_overhead_pct = 10  # overrides the catalog's (assumed) figure for every provider
    gpu_seconds_per_request = { default = 0.5, "assistant" = 2.0 }   # by workload tag value

Which pools are eligible is a pool rule (``[[pools]] ... scale_to_zero = true``, see
forecasting.pools), e.g. ``match = { workload = "inference", environment = ["dev", "staging"] }``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.serverless import SERVERLESS_PROVIDERS

KEYS: tuple[str, ...] = (
    "providers",
    "hybrid",
    "min_warm_gpus",
    "pin_region",
    "cold_start_overhead_pct",
    "gpu_seconds_per_request",
)


@dataclass(frozen=True)
class ServerlessPolicy:
    """Serverless choices (module docstring). ``gpu_seconds_per_request``: (workload, seconds)."""

    providers: tuple[str, ...] = SERVERLESS_PROVIDERS
    hybrid: bool = True
    min_warm_gpus: float = 0.0
    pin_region: bool = False
    cold_start_overhead_pct: float | None = None
    gpu_seconds_per_request: tuple[tuple[str, float], ...] = ()

    @classmethod
    def parse(cls, doc: Any, file: str = "(policy)") -> ServerlessPolicy:
        """From the parsed ``[serverless]`` table (None: the defaults)."""
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise PlannerInputError(
                "[serverless] must be a table",
                file=file,
                column="serverless",
                fix="write [serverless] then key = value lines",
            )
        for key in doc:
            if key not in KEYS:
                raise UnknownNameError(
                    "policy key in [serverless]",
                    str(key),
                    KEYS,
                    file=file,
                    column=f"serverless.{key}",
                )

        providers = _providers(doc, file)
        for key in ("hybrid", "pin_region"):
            if key in doc and not isinstance(doc[key], bool):
                raise PlannerInputError(
                    "must be true or false", file=file, column=_col(key), value=doc[key]
                )
        nums = {
            k: _number(doc.get(k), file, k) for k in ("min_warm_gpus", "cold_start_overhead_pct")
        }
        pairs = _seconds_per_request(doc.get("gpu_seconds_per_request", {}), file)
        return cls(
            providers=tuple(str(p).lower() for p in providers),
            hybrid=bool(doc.get("hybrid", True)),
            min_warm_gpus=nums["min_warm_gpus"] or 0.0,
            pin_region=bool(doc.get("pin_region", False)),
            cold_start_overhead_pct=nums["cold_start_overhead_pct"],
            gpu_seconds_per_request=tuple(sorted(pairs)),
        )

    def to_doc(self) -> dict[str, Any]:
        """The ``[serverless]`` table that :meth:`parse` reads back to this value."""
        doc: dict[str, Any] = {
            "providers": list(self.providers),
            "hybrid": self.hybrid,
            "min_warm_gpus": self.min_warm_gpus,
            "pin_region": self.pin_region,
            "gpu_seconds_per_request": dict(self.gpu_seconds_per_request),
        }
        if self.cold_start_overhead_pct is not None:
            doc["cold_start_overhead_pct"] = self.cold_start_overhead_pct
        return doc


def _col(key: str) -> str:
    return f"serverless.{key}"


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) and v >= 0


def _providers(doc: dict[str, Any], file: str) -> list[Any]:
    providers = doc.get("providers", list(SERVERLESS_PROVIDERS))
    if isinstance(providers, str):
        providers = [providers]
    if not isinstance(providers, list):
        raise PlannerInputError(
            "must be a list", file=file, column=_col("providers"), fix='write ["modal"]'
        )
    for p in providers:
        if str(p).lower() not in SERVERLESS_PROVIDERS:
            raise UnknownNameError(
                "serverless provider",
                str(p),
                SERVERLESS_PROVIDERS,
                file=file,
                column=_col("providers"),
            )
    return providers


def _number(v: Any, file: str, key: str) -> float | None:
    if v is None:
        return None
    if not _is_number(v):
        raise PlannerInputError(
            "must be a number >= 0", file=file, column=_col(key), value=v, fix="e.g. 0 or 10"
        )
    return float(v)


def _seconds_per_request(spr: Any, file: str) -> list[tuple[str, float]]:
    if not isinstance(spr, dict):
        raise PlannerInputError(
            "must be a table of workload = GPU-seconds per request",
            file=file,
            column=_col("gpu_seconds_per_request"),
            value=spr,
            fix="write gpu_seconds_per_request = { default = 0.5 }",
        )
    pairs = []
    for w, s in spr.items():
        if not _is_number(s):
            raise PlannerInputError(
                "must be a number of GPU-seconds >= 0",
                file=file,
                column=f"{_col('gpu_seconds_per_request')}.{w}",
                value=s,
                fix=f"write e.g. {w} = 0.5 (GPU-seconds one request keeps a GPU busy)",
            )
        pairs.append((str(w), float(s)))
    return pairs
