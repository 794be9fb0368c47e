"""Serverless (scale-to-zero) GPU offers: list prices per GPU-second and how they bill.

A serverless GPU (Modal, Replicate) bills the seconds a function runs, not the hours a GPU is held:
an idle endpoint costs nothing. The catalog is one dated file,
``pricing_data/catalogs/serverless/serverless-gpu-YYYY-MM-DD.csv`` with a ``.provenance.json``
sidecar, built by ``tools/build_catalogs.py`` from ``tools/price_sources/serverless-gpu``. Columns
(:data:`SERVERLESS_COLUMNS`):

- ``offer_id`` ``provider:region:gpu_type:serverless``; ``provider`` (modal, replicate); ``region``
  (``any``: the base price, no region pinned); ``gpu_type`` (canonical).
- ``usd_per_gpu_second``, ``usd_per_gpu_hour`` (= per second × 3600, as published).
- ``billing`` (the vendor's words), ``billing_increment_s`` (billed run time is rounded up to this),
  ``cold_start_overhead_pct`` (billed seconds spent loading the container and weights, as a percent
  of busy seconds), ``pinned_region_multiplier`` (price factor when a region is pinned).
- ``assumed`` (the price is an assumption), ``parameters_assumed`` (the billing parameters are; the
  rule is in ``assumption``), ``overlay`` (the row comes from the user's overlay), ``source``,
  ``price_date``.

Cost of a busy GPU-hour served serverless (USD), the figure the planner compares with held capacity:

    c = usd_per_gpu_hour × m × (1 + cold_start_overhead_pct / 100),  m = pinned_region_multiplier
    if the policy pins a region, else 1.

Overlay: a TOML overlay file may hold ``[[serverless]]`` tables with ``provider``, ``gpu_type`` and
any of ``usd_per_gpu_hour``, ``usd_per_gpu_second``, ``billing_increment_s``,
``cold_start_overhead_pct``, ``pinned_region_multiplier``; the row is then marked ``overlay`` and not
``assumed``/``parameters_assumed`` (the user vouches for it). A row naming an offer that does not
exist adds it (``usd_per_gpu_hour`` or ``usd_per_gpu_second`` required).
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import canonical_gpu_type

SERVERLESS_PROVIDERS: tuple[str, ...] = ("modal", "replicate")
SERVERLESS_COLUMNS: tuple[str, ...] = (
    "offer_id",
    "provider",
    "region",
    "gpu_type",
    "usd_per_gpu_second",
    "usd_per_gpu_hour",
    "billing",
    "billing_increment_s",
    "cold_start_overhead_pct",
    "pinned_region_multiplier",
    "assumed",
    "parameters_assumed",
    "assumption",
    "source",
    "price_date",
)
_NUMERIC = (
    "usd_per_gpu_second",
    "usd_per_gpu_hour",
    "billing_increment_s",
    "cold_start_overhead_pct",
    "pinned_region_multiplier",
)
_BOOL = ("assumed", "parameters_assumed")
_FILE_RE = re.compile(r"^serverless-gpu-(?P<date>\d{4}-\d{2}-\d{2})\.csv$")
SECONDS_PER_HOUR = 3600.0
OVERLAY_KEYS = ("provider", "gpu_type", *[c for c in _NUMERIC], "note")


@dataclass(frozen=True)
class ServerlessCatalog:
    """Serverless offers (columns :data:`SERVERLESS_COLUMNS` plus ``overlay`` and
    ``catalog_version``) and the file versions they came from."""

    offers: pd.DataFrame
    versions: tuple[str, ...]

    def for_gpu(self, gpu_type: str, providers: tuple[str, ...]) -> pd.DataFrame:
        """Offers of ``gpu_type`` from ``providers``, cheapest per busy GPU-hour first."""
        o = self.offers
        m = (o["gpu_type"] == gpu_type) & o["provider"].isin(providers)
        return o[m].sort_values(["usd_per_gpu_hour", "offer_id"], kind="mergesort")


def serverless_catalog_dir() -> Path:
    from pricing_data.catalog import shipped_catalog_dir

    return shipped_catalog_dir() / "serverless"


def validate_serverless(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    """Typed serverless offers from a string table; errors name file, row, column and the fix."""
    missing = [c for c in SERVERLESS_COLUMNS if c not in raw.columns]
    if missing:
        raise PlannerInputError(
            "serverless catalog lacks columns",
            file=label,
            value=missing,
            fix="rebuild it with tools/build_catalogs.py",
        )
    out = raw[list(SERVERLESS_COLUMNS)].copy()
    for col in _NUMERIC:
        vals = pd.to_numeric(out[col], errors="coerce")
        bad = vals.isna() | (vals < 0) | ~vals.map(lambda v: math.isfinite(v) if v == v else False)
        if bad.any():
            i = int(bad[bad].index[0])
            raise PlannerInputError(
                "not a number >= 0",
                file=label,
                row=i + 2,
                column=col,
                value=str(raw.at[i, col]),
                fix="write a plain non-negative number",
            )
        out[col] = vals.astype(float)
    for col in _BOOL:
        low = out[col].astype(str).str.strip().str.lower()
        bad = ~low.isin(["true", "false"])
        if bad.any():
            i = int(bad[bad].index[0])
            raise PlannerInputError(
                "not true or false", file=label, row=i + 2, column=col, value=str(raw.at[i, col])
            )
        out[col] = low == "true"
    for i, prov in enumerate(out["provider"].astype(str)):
        if prov not in SERVERLESS_PROVIDERS:
            raise UnknownNameError(
                "serverless provider", prov, SERVERLESS_PROVIDERS, file=label, row=i + 2
            )
    out["gpu_type"] = [canonical_gpu_type(str(g)) for g in out["gpu_type"]]
    off = (out["usd_per_gpu_second"] * SECONDS_PER_HOUR - out["usd_per_gpu_hour"]).abs()
    bad = off > 0.01 * out["usd_per_gpu_hour"].clip(lower=1e-9)
    if bad.any():
        i = int(bad[bad].index[0])
        raise PlannerInputError(
            "usd_per_gpu_second × 3600 differs from usd_per_gpu_hour by more than 1%",
            file=label,
            row=i + 2,
            column="usd_per_gpu_second",
            value=str(raw.at[i, "usd_per_gpu_second"]),
            fix="give both figures for the same price",
        )
    if out["offer_id"].duplicated().any():
        i = int(out["offer_id"].duplicated().to_numpy().nonzero()[0][0])
        raise PlannerInputError(
            "duplicate offer_id",
            file=label,
            row=i + 2,
            column="offer_id",
            value=out.at[i, "offer_id"],
        )
    return out


@functools.lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> pd.DataFrame:
    return validate_serverless(pd.read_csv(path, dtype=str, keep_default_na=False), path)


def load_serverless_catalog(
    as_of: str | date | None = None, overlay: str | Path | None = None
) -> ServerlessCatalog:
    """The newest shipped serverless catalog dated on or before ``as_of``, then ``overlay``.

    An ``as_of`` before the first file gives an empty catalog (no serverless offers then)."""
    day = date.fromisoformat(str(as_of)) if as_of is not None else None
    files = []
    root = serverless_catalog_dir()
    for path in sorted(root.glob("serverless-gpu-*.csv")) if root.is_dir() else []:
        m = _FILE_RE.match(path.name)
        if m and (day is None or date.fromisoformat(m["date"]) <= day):
            files.append(path)
    if not files:
        empty = pd.DataFrame(columns=[*SERVERLESS_COLUMNS, "overlay", "catalog_version"])
        return ServerlessCatalog(empty, ())
    path = files[-1]
    offers = _read(str(path), path.stat().st_mtime_ns).copy()
    offers["overlay"] = False
    version = f"serverless/{path.name}"
    offers["catalog_version"] = version
    versions: tuple[str, ...] = (version,)
    if overlay is not None and Path(overlay).suffix.lower() == ".toml":
        rows = read_serverless_overlay(Path(overlay))
        if rows:
            offers = apply_serverless_overlay(offers, rows, str(overlay))
            versions = (*versions, f"overlay:{Path(overlay).name}")
    return ServerlessCatalog(offers.reset_index(drop=True), versions)


def read_serverless_overlay(path: Path) -> list[dict[str, Any]]:
    """The ``[[serverless]]`` tables of a TOML overlay (other sections are pricing_data.overlay's)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PlannerInputError(f"cannot read the overlay: {e}", file=str(path)) from None
    tables = doc.get("serverless", [])
    if not isinstance(tables, list):
        raise PlannerInputError(
            "'serverless' must be a list of tables",
            file=str(path),
            column="serverless",
            fix="write each override as a [[serverless]] table",
        )
    for i, t in enumerate(tables):
        for key in t:
            if key not in OVERLAY_KEYS:
                raise UnknownNameError(
                    "serverless overlay key", str(key), OVERLAY_KEYS, file=str(path), row=i + 1
                )
        for key in ("provider", "gpu_type"):
            if key not in t:
                raise PlannerInputError(
                    f"[[serverless]] #{i + 1} lacks '{key}'",
                    file=str(path),
                    column=key,
                    fix='name the offer, e.g. provider = "modal", gpu_type = "H100"',
                )
        for key in _NUMERIC:
            v = t.get(key)
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0
            ):
                raise PlannerInputError(
                    "must be a number >= 0",
                    file=str(path),
                    row=i + 1,
                    column=f"serverless.{key}",
                    value=v,
                )
    return list(tables)


def apply_serverless_overlay(
    offers: pd.DataFrame, rows: list[dict[str, Any]], file: str
) -> pd.DataFrame:
    """Replace or add serverless offers (module docstring); a later row wins."""
    out = offers.copy()
    for i, rec in enumerate(rows):
        prov = str(rec["provider"]).lower()
        if prov not in SERVERLESS_PROVIDERS:
            raise UnknownNameError(
                "serverless provider", prov, SERVERLESS_PROVIDERS, file=file, row=i + 1
            )
        gpu = canonical_gpu_type(str(rec["gpu_type"]))
        hour = rec.get("usd_per_gpu_hour")
        sec = rec.get("usd_per_gpu_second")
        if hour is None and sec is not None:
            hour = float(sec) * SECONDS_PER_HOUR
        if sec is None and hour is not None:
            sec = float(hour) / SECONDS_PER_HOUR
        mask = (out["provider"] == prov) & (out["gpu_type"] == gpu)
        if not mask.any():
            if hour is None:
                raise PlannerInputError(
                    f"[[serverless]] #{i + 1} adds an offer without a price",
                    file=file,
                    column="usd_per_gpu_hour",
                    fix="give usd_per_gpu_hour or usd_per_gpu_second",
                )
            base = {
                "offer_id": f"{prov}:any:{gpu}:serverless",
                "provider": prov,
                "region": "any",
                "gpu_type": gpu,
                "billing": "per second (overlay)",
                "billing_increment_s": 1.0,
                "cold_start_overhead_pct": 0.0,
                "pinned_region_multiplier": 1.0,
                "assumption": "",
                "price_date": "",
                "catalog_version": "",
            }
            out = pd.concat([out, pd.DataFrame([base])], ignore_index=True)
            mask = (out["provider"] == prov) & (out["gpu_type"] == gpu)
        if hour is not None:
            out.loc[mask, "usd_per_gpu_hour"] = float(hour)
            out.loc[mask, "usd_per_gpu_second"] = float(sec)  # type: ignore[arg-type,index]
        for key in ("billing_increment_s", "cold_start_overhead_pct", "pinned_region_multiplier"):
            if key in rec:
                out.loc[mask, key] = float(rec[key])
        out.loc[mask, "assumed"] = False
        out.loc[mask, "parameters_assumed"] = False
        out.loc[mask, "overlay"] = True
        out.loc[mask, "source"] = f"overlay:{Path(file).name}"
        out.loc[mask, "assumption"] = str(rec.get("note", ""))
    return out
