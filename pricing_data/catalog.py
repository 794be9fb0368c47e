"""Loading the offer catalog: shipped dated files, user-refreshed files, and an optional overlay.

Catalog files live in ``pricing_data/catalogs/<provider>/<series>-YYYY-MM-DD.csv`` (package data) and,
for catalogs written by ``planner prices refresh``, in the directory named by the environment variable
``PLANNER_CATALOG_DIR`` (default ``~/.local/share/gpu-planner/catalogs``) with the same layout.
For each provider and series the newest file dated on or before ``as_of`` is used, so a refreshed
catalog supersedes the shipped one without overwriting it, and an old plan can be re-run on the
prices of its day. Nothing is read at import time.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import canonical_gpu_type
from pricing_data.overlay import apply_overlay, overlay_source
from pricing_data.schema import COMMITMENT_MODELS, PROVIDERS, PURCHASE_MODELS
from pricing_data.validate import validate_offers

_FILE_RE = re.compile(r"^(?P<series>.+)-(?P<date>\d{4}-\d{2}-\d{2})\.csv$")


@dataclass(frozen=True)
class CatalogFile:
    provider: str
    series: str
    date: date
    path: Path
    shipped: bool

    @property
    def version(self) -> str:
        """How plans record this file: ``provider/file-name`` (and ``refreshed:`` when not shipped)."""
        prefix = "" if self.shipped else "refreshed:"
        return f"{prefix}{self.provider}/{self.path.name}"


@dataclass(frozen=True)
class Catalog:
    """A typed table of offers (columns of pricing_data.schema plus ``catalog_version``)."""

    offers: pd.DataFrame
    versions: tuple[str, ...]
    overlay: str | None = None
    as_of: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.offers)

    def select(
        self,
        *,
        provider: str | Iterable[str] | None = None,
        region: str | Iterable[str] | None = None,
        gpu_type: str | Iterable[str] | None = None,
        purchase_model: str | Iterable[str] | None = None,
        term_months: int | Iterable[int] | None = None,
        sku: str | Iterable[str] | None = None,
    ) -> Catalog:
        """The offers matching every given filter. Unknown names raise UnknownNameError."""
        df = self.offers
        mask = pd.Series(True, index=df.index)
        if provider is not None:
            wanted = _as_set(provider, "provider", PROVIDERS)
            mask &= df["provider"].isin(wanted)
        if gpu_type is not None:
            names = [gpu_type] if isinstance(gpu_type, str) else list(gpu_type)
            wanted_gpu = {canonical_gpu_type(n) for n in names}
            mask &= df["gpu_type"].isin(wanted_gpu)
        if purchase_model is not None:
            mask &= df["purchase_model"].isin(
                _as_set(purchase_model, "purchase model", PURCHASE_MODELS)
            )
        if region is not None:
            mask &= df["region"].isin(_as_set(region, "region", sorted(set(df["region"]))))
        if sku is not None:
            mask &= df["sku"].isin(_as_set(sku, "instance type or sku", sorted(set(df["sku"]))))
        if term_months is not None:
            terms = {term_months} if isinstance(term_months, int) else set(term_months)
            mask &= df["term_months"].isin(terms)
        return Catalog(
            df[mask].reset_index(drop=True), self.versions, self.overlay, self.as_of, self.notes
        )

    def instance_gpus(self) -> dict[str, tuple[str, float]]:
        """sku -> (gpu_type, gpus_per_unit) for on-demand units (instance types and provider SKUs)."""
        od = self.offers[self.offers["purchase_model"].isin(["on_demand", "spot"])]
        first = od.drop_duplicates("sku")
        return {
            str(s): (str(g), float(n))
            for s, g, n in zip(first["sku"], first["gpu_type"], first["gpus_per_unit"], strict=True)
        }


def _as_set(value: str | Iterable[str], kind: str, known: Iterable[str]) -> set[str]:
    names = [value] if isinstance(value, str) else list(value)
    known_list = list(known)
    lower = {k.lower(): k for k in known_list}
    out = set()
    for n in names:
        if n.lower() not in lower:
            raise UnknownNameError(kind, n, known_list)
        out.add(lower[n.lower()])
    return out


def user_catalog_dir() -> Path:
    """Where refreshed catalogs are written and read (``PLANNER_CATALOG_DIR`` overrides)."""
    env = os.environ.get("PLANNER_CATALOG_DIR")
    if env:
        return Path(env)
    return Path.home() / ".local" / "share" / "gpu-planner" / "catalogs"


def shipped_catalog_dir() -> Path:
    return Path(str(resources.files("pricing_data") / "catalogs"))


def list_catalog_files(include_user: bool = True) -> list[CatalogFile]:
    """Every catalog file found, shipped first then refreshed, sorted by provider, series and date."""
    roots = [(shipped_catalog_dir(), True)]
    if include_user:
        roots.append((user_catalog_dir(), False))
    found: list[CatalogFile] = []
    for root, shipped in roots:
        for provider in PROVIDERS:
            pdir = root / provider
            if not pdir.is_dir():
                continue
            for path in sorted(pdir.glob("*.csv")):
                m = _FILE_RE.match(path.name)
                if not m:
                    continue
                found.append(
                    CatalogFile(provider, m["series"], date.fromisoformat(m["date"]), path, shipped)
                )
    return sorted(found, key=lambda f: (f.provider, f.series, f.date, not f.shipped))


def select_files(files: list[CatalogFile], as_of: date | None) -> list[CatalogFile]:
    """For each (provider, series) the newest file dated on or before ``as_of`` (refreshed wins ties)."""
    best: dict[tuple[str, str], CatalogFile] = {}
    for f in files:
        if as_of is not None and f.date > as_of:
            continue
        key = (f.provider, f.series)
        cur = best.get(key)
        if cur is None or (f.date, not f.shipped) >= (cur.date, not cur.shipped):
            best[key] = f
    return [best[k] for k in sorted(best)]


def read_catalog_file(path: Path, label: str | None = None) -> pd.DataFrame:
    """Read and validate one catalog CSV; errors name the file, row and column.

    Validated tables are cached per process by (path, size, mtime), so a file changed on disk is
    read again; callers get a copy they may change.
    """
    stat = path.stat()
    return _read_validated(str(path), stat.st_size, stat.st_mtime_ns, label or str(path)).copy()


@functools.lru_cache(maxsize=32)
def _read_validated(path: str, size: int, mtime_ns: int, label: str) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_offers(raw, label)


def _parse_as_of(as_of: str | date | None) -> date | None:
    if as_of is None or isinstance(as_of, date):
        return as_of
    try:
        return date.fromisoformat(str(as_of))
    except ValueError:
        raise PlannerInputError(
            "not an ISO date", column="as_of", value=as_of, fix="write the date as YYYY-MM-DD"
        ) from None


def load_catalog(
    as_of: str | date | None = None,
    providers: Iterable[str] | None = None,
    overlay: str | Path | None = None,
    *,
    include_user: bool = True,
) -> Catalog:
    """Load every provider's newest catalog on or before ``as_of``, then apply ``overlay``.

    Returns a :class:`Catalog` whose ``offers`` follow pricing_data/SCHEMA.md plus ``catalog_version``.
    """
    as_of_date = _parse_as_of(as_of)
    wanted = (
        _as_set(list(providers), "provider", PROVIDERS) if providers is not None else set(PROVIDERS)
    )
    files = [
        f
        for f in select_files(list_catalog_files(include_user), as_of_date)
        if f.provider in wanted
    ]
    if not files:
        raise PlannerInputError(
            "no catalog is dated on or before the requested date",
            column="as_of",
            value=str(as_of_date),
            fix="use a later --as-of date or refresh the catalog",
        )
    frames = []
    for f in files:
        df = read_catalog_file(f.path, label=f.version)
        df["catalog_version"] = f.version
        frames.append(df)
    offers = pd.concat(frames, ignore_index=True)
    offers = offers.drop_duplicates("offer_id", keep="last").reset_index(drop=True)
    catalog = Catalog(
        offers=offers,
        versions=tuple(f.version for f in files),
        as_of=as_of_date.isoformat() if as_of_date else None,
    )
    if overlay is not None:
        path = Path(overlay)
        catalog = replace(
            catalog,
            offers=apply_overlay(catalog.offers, path),
            versions=(*catalog.versions, overlay_source(path)),
            overlay=str(path),
        )
    return catalog


def usd_per_gpu_hour_at(offers: pd.DataFrame, utilization: float) -> pd.Series:
    """Effective USD per *used* GPU-hour when a unit is busy ``utilization`` of its hours.

    Commitments are paid whether used or not, so their price per used GPU-hour is
    ``usd_per_gpu_hour / utilization``; on-demand and spot are paid only when used, so theirs is
    ``usd_per_gpu_hour`` at any utilisation.
    """
    if not 0 < utilization <= 1:
        raise PlannerInputError(
            "utilisation must be in (0, 1]",
            column="utilization",
            value=utilization,
            fix="write e.g. 0.8 for 80%",
        )
    committed = offers["purchase_model"].isin(COMMITMENT_MODELS)
    price = offers["usd_per_gpu_hour"].astype(float)
    return price.where(~committed, price / utilization)
