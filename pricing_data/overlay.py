"""User price overlays: negotiated contract rates, private-pricing discounts, real Savings Plans rates.

An overlay is a CSV or TOML file. Overlaid offers get ``overlay = true``, ``assumed = false`` (the user
vouches for the price) and ``source = overlay:<file>``; ``catalog_version`` gains the overlay file.

**CSV**: one row per offer to replace or add. Key columns (all required): ``provider, region, sku,
purchase_model, term_months``; optional key columns ``offering_class, payment_option`` (empty matches
any). ``region`` may be ``*`` (every region of that provider). Price columns, one of:
``usd_per_gpu_hour`` (the effective rate per GPU-hour), or ``effective_usd_per_hour`` (per unit),
or ``upfront_usd`` + ``recurring_usd_per_hour`` (per unit). A row that matches no offer adds one; it
must then name ``gpu_type`` and ``gpus_per_unit`` unless the sku is known to the catalog.

**TOML**::

    [discounts]                    # private pricing: percent off every offer of a provider
    aws = 5.0                      # optionally per purchase model: aws.on_demand = 3.0

    [[offer]]                      # same keys as the CSV columns
    provider = "coreweave"
    region = "north-america"
    sku = "HGX H100"
    purchase_model = "reserved_contract"
    term_months = 12
    payment_option = "no_upfront"
    usd_per_gpu_hour = 3.10

Precedence: the catalog, then ``[discounts]``, then ``offer`` rows in file order (a later row wins).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.fileio import read_user_csv, read_user_text
from pricing_data.gpu_types import canonical_gpu_type
from pricing_data.rates import price_columns, price_columns_from_effective
from pricing_data.schema import (
    COMMITMENT_MODELS,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
    PURCHASE_MODELS,
)

KEY_COLUMNS = ("provider", "region", "sku", "purchase_model", "term_months")
OPTIONAL_KEYS = ("offering_class", "payment_option")
PRICE_COLUMNS = (
    "usd_per_gpu_hour",
    "effective_usd_per_hour",
    "upfront_usd",
    "recurring_usd_per_hour",
)
EXTRA_COLUMNS = ("gpu_type", "gpus_per_unit", "note")
ALLOWED = (*KEY_COLUMNS, *OPTIONAL_KEYS, *PRICE_COLUMNS, *EXTRA_COLUMNS)


def read_overlay(path: Path) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    """(discounts, offer rows) from a CSV or TOML overlay file; rows carry their source row number."""
    name = str(path)
    if not path.is_file():
        raise PlannerInputError("overlay file not found", file=name, fix="check the --overlay path")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        discounts, rows = _read_toml(path, name)
        row_label = "offer #"
    elif suffix == ".csv":
        discounts, rows = {}, _read_csv(path, name)
        row_label = "row"
    else:
        raise PlannerInputError(
            "overlay must be a .csv or .toml file",
            file=name,
            value=path.suffix,
            fix="rename or convert the file",
        )
    for rec in rows:
        for k in rec:
            if k != "_row" and k not in ALLOWED:
                raise UnknownNameError("overlay column", k, ALLOWED, file=name, row=rec["_row"])
        rec["_label"] = row_label
    from pricing_data.validate_overlay import check_overlay_prices

    check_overlay_prices(rows, name)  # no free (zero) or implausible prices
    return discounts, rows


def _read_csv(path: Path, name: str) -> list[dict[str, Any]]:
    df = read_user_csv(path, what="overlay file", fix="add a header row and offer rows")
    df.columns = [c.strip() for c in df.columns]
    return [
        {"_row": i + 2, **{str(k): str(v).strip() for k, v in rec.items()}}
        for i, rec in enumerate(df.to_dict(orient="records"))
    ]


def _read_toml(path: Path, name: str) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    try:
        doc = tomllib.loads(read_user_text(path, what="overlay", fix="give a TOML overlay"))
    except tomllib.TOMLDecodeError as e:
        raise PlannerInputError(
            f"not valid TOML: {e}", file=name, fix="fix the TOML syntax"
        ) from None
    for key in doc:
        # [[serverless]] tables are read by pricing_data.serverless
        if key not in ("discounts", "offer", "serverless"):
            raise UnknownNameError(
                "overlay section", key, ("discounts", "offer", "serverless"), file=name
            )
    if not isinstance(doc.get("discounts", {}), dict):
        raise PlannerInputError(
            "[discounts] must be a table of provider = percent",
            file=name,
            column="discounts",
            value=doc["discounts"],
            fix="write [discounts] then a line aws = 5",
        )
    if not isinstance(doc.get("offer", []), list):
        raise PlannerInputError(
            "offers must be an array of tables",
            file=name,
            column="offer",
            fix="write each offer under [[offer]] (double brackets), not [offer]",
        )
    rows = [
        {"_row": i + 1, **{k: ("" if v is None else v) for k, v in rec.items()}}
        for i, rec in enumerate(doc.get("offer", []))
    ]
    return _discounts(doc.get("discounts", {}), name), rows


def _discounts(table: dict[str, Any], name: str) -> dict[str, dict[str, float]]:
    """``[discounts]``: provider -> purchase model (``*``: all) -> percent off."""
    discounts: dict[str, dict[str, float]] = {}
    for provider, value in table.items():
        if provider not in PROVIDERS:
            raise UnknownNameError("provider", provider, PROVIDERS, file=name, column="discounts")
        if not isinstance(value, dict):
            discounts.setdefault(provider, {})["*"] = _pct(value, name, f"discounts.{provider}")
            continue
        for model, pct in value.items():
            if model not in PURCHASE_MODELS:
                raise UnknownNameError(
                    "purchase model",
                    model,
                    PURCHASE_MODELS,
                    file=name,
                    column=f"discounts.{provider}",
                )
            discounts.setdefault(provider, {})[model] = _pct(
                pct, name, f"discounts.{provider}.{model}"
            )
    return discounts


def _pct(value: Any, file: str, column: str) -> float:
    try:
        pct = float(value)
    except (TypeError, ValueError):
        raise PlannerInputError(
            "not a percentage", file=file, column=column, value=value, fix="write e.g. 5 for 5%"
        ) from None
    if not 0 <= pct < 100:
        raise PlannerInputError(
            "discount must be in [0, 100)",
            file=file,
            column=column,
            value=value,
            fix="write e.g. 5 for 5%",
        )
    return pct


def _num(rec: dict[str, Any], col: str, file: str) -> float | None:
    v = rec.get(col, "")
    if v == "" or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise PlannerInputError(
            "not a number",
            file=file,
            row=rec["_row"],
            column=col,
            value=v,
            fix="write a plain decimal number",
        ) from None
    if not math.isfinite(f) or f < 0:
        raise PlannerInputError(
            "must be a number >= 0",
            file=file,
            row=rec["_row"],
            column=col,
            value=v,
            fix="fix the price",
        )
    return f


def overlay_source(path: Path) -> str:
    """How overlaid offers name their source and catalog version: ``overlay:<file name>``."""
    return f"overlay:{path.name}"


def apply_overlay(offers: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A new offers table with the overlay's discounts and offer rows applied (the input is not
    changed). The catalog records :func:`overlay_source` among its versions."""
    name = str(path)
    discounts, rows = read_overlay(path)
    source = overlay_source(path)
    out = _apply_discounts(offers.copy(), discounts, source)
    for rec in rows:
        out = _apply_row(out, rec, name, source)
    return out.reset_index(drop=True)


def _apply_discounts(
    offers: pd.DataFrame, discounts: dict[str, dict[str, float]], source: str
) -> pd.DataFrame:
    """Percent off every price column of a provider's offers (optionally per purchase model)."""
    for provider, by_model in discounts.items():
        for model, pct in by_model.items():
            mask = offers["provider"] == provider
            if model != "*":
                mask &= offers["purchase_model"] == model
            factor = 1 - pct / 100
            for col in PRICE_COLUMNS_OF_OFFERS:
                offers.loc[mask, col] = offers.loc[mask, col] * factor
            offers.loc[mask, "overlay"] = True
            offers.loc[mask, "source"] = (
                offers.loc[mask, "source"].astype(str) + f"; {source} -{pct:g}%"
            )
    return offers


PRICE_COLUMNS_OF_OFFERS = (
    "upfront_usd",
    "recurring_usd_per_hour",
    "effective_usd_per_hour",
    "usd_per_gpu_hour",
)


@dataclass(frozen=True)
class OverlayRow:
    """One checked overlay row: the offer key and the prices given."""

    row: int
    file: str
    provider: str
    region: str
    sku: str
    purchase_model: str
    term_months: int
    offering_class: str
    payment_option: str
    usd_per_gpu_hour: float | None
    effective_usd_per_hour: float | None
    upfront_usd: float | None
    recurring_usd_per_hour: float | None

    def error(self, what: str, column: str, fix: str, value: Any = None) -> PlannerInputError:
        return PlannerInputError(
            what, file=self.file, row=self.row, column=column, value=value, fix=fix
        )

    def prices(self, gpus_per_unit: float, payment_option: str) -> dict[str, float]:
        """The four price columns for an offer of ``gpus_per_unit`` GPUs: from upfront +
        recurring when given, else the effective (or per-GPU) rate split by ``payment_option``
        (the row's, else the matched offer's own) with the catalog's rule (pricing_data.rates)."""
        if self.recurring_usd_per_hour is not None:
            return price_columns(
                self.upfront_usd or 0.0,
                self.recurring_usd_per_hour,
                self.term_months,
                gpus_per_unit,
            )
        if self.effective_usd_per_hour is not None:
            eff = self.effective_usd_per_hour
        else:
            eff = float(self.usd_per_gpu_hour or 0.0) * gpus_per_unit
        return price_columns_from_effective(eff, self.term_months, payment_option, gpus_per_unit)


def _check_row(rec: dict[str, Any], file: str) -> OverlayRow:
    """The row's keys and prices, checked: names known, term fits the model, a price given."""
    row = rec["_row"]
    for col in KEY_COLUMNS:
        if str(rec.get(col, "")).strip() == "":
            raise PlannerInputError(
                "key column is empty",
                file=file,
                row=row,
                column=col,
                fix=f"every overlay row needs {', '.join(KEY_COLUMNS)}",
            )
    provider = str(rec["provider"]).lower()
    model = str(rec["purchase_model"])
    klass = str(rec.get("offering_class", "") or "")
    pay = str(rec.get("payment_option", "") or "")
    for kind, value, names, column in (
        ("provider", provider, PROVIDERS, "provider"),
        ("purchase model", model, PURCHASE_MODELS, "purchase_model"),
        ("offering class", klass, OFFERING_CLASSES, "offering_class"),
        ("payment option", pay, PAYMENT_OPTIONS, "payment_option"),
    ):
        if value and value not in names:
            raise UnknownNameError(kind, value, names, file=file, row=row, column=column)
    term = _num(rec, "term_months", file)
    if term is None or term != int(term):
        raise PlannerInputError(
            "not a whole number of months",
            file=file,
            row=row,
            column="term_months",
            value=rec["term_months"],
            fix="write 0, 12, 24 or 36",
        )
    months = int(term)
    if (model in COMMITMENT_MODELS) != (months > 0):
        raise PlannerInputError(
            f"term_months {months} does not fit purchase model {model}",
            file=file,
            row=row,
            column="term_months",
            fix="commitments need a term > 0; on-demand and spot use 0",
        )
    checked = OverlayRow(
        row=row,
        file=file,
        provider=provider,
        region=str(rec["region"]),
        sku=str(rec["sku"]),
        purchase_model=model,
        term_months=months,
        offering_class=klass,
        payment_option=pay,
        usd_per_gpu_hour=_num(rec, "usd_per_gpu_hour", file),
        effective_usd_per_hour=_num(rec, "effective_usd_per_hour", file),
        upfront_usd=_num(rec, "upfront_usd", file),
        recurring_usd_per_hour=_num(rec, "recurring_usd_per_hour", file),
    )
    if (
        checked.usd_per_gpu_hour is None
        and checked.effective_usd_per_hour is None
        and checked.recurring_usd_per_hour is None
    ):
        raise checked.error(
            "no price given",
            "usd_per_gpu_hour",
            "give usd_per_gpu_hour, effective_usd_per_hour, or upfront_usd + recurring_usd_per_hour",
        )
    return checked


def _matching(offers: pd.DataFrame, r: OverlayRow) -> pd.Series:
    """The offers an overlay row replaces (``region = *``: every region of the provider)."""
    provider_rows = offers["provider"] == r.provider
    regions = set(offers.loc[provider_rows, "region"])
    if r.region != "*" and r.region not in regions:
        raise UnknownNameError(
            f"{r.provider} region",
            r.region,
            regions | {"*"},
            file=r.file,
            row=r.row,
            column="region",
        )
    mask = (
        provider_rows
        & (offers["sku"] == r.sku)
        & (offers["purchase_model"] == r.purchase_model)
        & (offers["term_months"] == r.term_months)
    )
    if r.region != "*":
        mask &= offers["region"] == r.region
    if r.offering_class:
        mask &= offers["offering_class"] == r.offering_class
    if r.payment_option:
        mask &= offers["payment_option"] == r.payment_option
    return mask


def _apply_row(offers: pd.DataFrame, rec: dict[str, Any], file: str, source: str) -> pd.DataFrame:
    """One overlay row: replace the prices of the offers it matches, or add a new offer."""
    r = _check_row(rec, file)
    mask = _matching(offers, r)
    if mask.any():
        return _replace_prices(offers, mask, r, source)
    return pd.concat(
        [offers, pd.DataFrame([_new_offer(offers, rec, r, source)])], ignore_index=True
    )


def _replace_prices(
    offers: pd.DataFrame, mask: pd.Series, r: OverlayRow, source: str
) -> pd.DataFrame:
    offers = offers.copy()
    for idx in offers.index[mask]:
        gpus = float(offers.loc[idx, "gpus_per_unit"])
        payment = r.payment_option or str(offers.loc[idx, "payment_option"])
        for col, val in r.prices(gpus, payment).items():
            offers.at[idx, col] = val
        offers.at[idx, "overlay"] = True
        offers.at[idx, "assumed"] = False
        offers.at[idx, "assumption"] = ""
        offers.at[idx, "source"] = source
        offers.at[idx, "catalog_version"] = source
    return offers


def _new_gpu_type_and_count(
    known: pd.DataFrame, rec: dict[str, Any], r: OverlayRow
) -> tuple[str, float]:
    """GPU type and GPUs per unit of a new offer: given in the row, else those of the sku's
    existing offers (a reserved contract is per GPU)."""
    gpu_text = str(rec.get("gpu_type", "") or "")
    if gpu_text:
        gpu_type = canonical_gpu_type(gpu_text, file=r.file, row=r.row, column="gpu_type")
    elif not known.empty:
        gpu_type = str(known["gpu_type"].iloc[0])
    else:
        raise r.error(
            f"sku {r.sku!r} is not in the {r.provider} catalog",
            "gpu_type",
            "give gpu_type and gpus_per_unit for a new sku",
        )
    gpus_given = _num(rec, "gpus_per_unit", r.file)
    if gpus_given is not None:
        gpus = gpus_given
    elif r.purchase_model == "reserved_contract":
        gpus = 1.0
    elif not known.empty:
        gpus = float(known["gpus_per_unit"].iloc[0])
    else:
        raise r.error(
            f"gpus_per_unit missing for new sku {r.sku!r}",
            "gpus_per_unit",
            "write the GPUs per unit",
        )
    if gpus <= 0:
        raise r.error("must be > 0", "gpus_per_unit", "write the GPUs per unit", value=gpus)
    return gpu_type, gpus


def _new_offer(
    offers: pd.DataFrame, rec: dict[str, Any], r: OverlayRow, source: str
) -> dict[str, Any]:
    """A catalog row for an overlay row that matched no offer."""
    if r.region == "*":
        raise r.error(
            "region '*' matched no existing offer", "region", "name a region to add a new offer"
        )
    known = offers[(offers["provider"] == r.provider) & (offers["sku"] == r.sku)]
    gpu_type, gpus = _new_gpu_type_and_count(known, rec, r)
    months, klass = r.term_months, r.offering_class
    pay = r.payment_option or ("no_upfront" if r.purchase_model in COMMITMENT_MODELS else "")
    if r.purchase_model == "reserved_instance" and not klass:
        raise r.error(
            "a new RI needs offering_class", "offering_class", "write standard or convertible"
        )
    parts = (
        [r.provider, r.region, r.sku, r.purchase_model]
        + ([klass] if klass else [])
        + ([str(months), pay] if months else [])
    )
    family = str(known["instance_family"].iloc[0]) if not known.empty else r.sku.split(".")[0]
    return {
        "offer_id": ":".join(parts),
        "provider": r.provider,
        "region": r.region,
        "sku": r.sku,
        "instance_family": family,
        "gpu_type": gpu_type,
        "gpus_per_unit": gpus,
        "purchase_model": r.purchase_model,
        "offering_class": klass,
        "term_months": months,
        "payment_option": pay if months else "",
        **r.prices(gpus, pay),
        "spot_interruption_rate": math.nan,
        "assumed": False,
        "assumption": "",
        "overlay": True,
        "source": source,
        "price_date": pd.Timestamp.now(tz="UTC").date().isoformat(),
        "catalog_version": source,
    }
