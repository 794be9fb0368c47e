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
from pathlib import Path
from typing import Any

import pandas as pd

from pricing_data.catalog import Catalog
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.gpu_types import canonical_gpu_type
from pricing_data.schema import (
    COMMITMENT_MODELS,
    OFFERING_CLASSES,
    PAYMENT_OPTIONS,
    PROVIDERS,
    PURCHASE_MODELS,
    term_hours,
)

# The share of a partial-upfront term paid upfront (pricing_data/assumptions.toml [ri_payment_split]).
PARTIAL_UPFRONT_SHARE = 0.5
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
    discounts: dict[str, dict[str, float]] = {}
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(path.read_text())
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
        for provider, value in doc.get("discounts", {}).items():
            if provider not in PROVIDERS:
                raise UnknownNameError(
                    "provider", provider, PROVIDERS, file=name, column="discounts"
                )
            if isinstance(value, dict):
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
            else:
                discounts.setdefault(provider, {})["*"] = _pct(value, name, f"discounts.{provider}")
        for i, rec in enumerate(doc.get("offer", [])):
            rows.append({"_row": i + 1, **{k: ("" if v is None else v) for k, v in rec.items()}})
        row_label = "offer #"
    elif path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise PlannerInputError(
                "the overlay file is empty", file=name, fix="add a header row and offer rows"
            ) from None
        df.columns = [c.strip() for c in df.columns]
        for i, rec in enumerate(df.to_dict(orient="records")):
            rows.append({"_row": i + 2, **{str(k): str(v).strip() for k, v in rec.items()}})
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
    return discounts, rows


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


def apply_overlay(catalog: Catalog, path: Path) -> Catalog:
    """A new catalog with the overlay's discounts and offer rows applied (the input is not changed)."""
    name = str(path)
    discounts, rows = read_overlay(path)
    offers = catalog.offers.copy()
    source = f"overlay:{path.name}"
    for provider, by_model in discounts.items():
        for model, pct in by_model.items():
            mask = offers["provider"] == provider
            if model != "*":
                mask &= offers["purchase_model"] == model
            factor = 1 - pct / 100
            for col in (
                "upfront_usd",
                "recurring_usd_per_hour",
                "effective_usd_per_hour",
                "usd_per_gpu_hour",
            ):
                offers.loc[mask, col] = offers.loc[mask, col] * factor
            offers.loc[mask, "overlay"] = True
            offers.loc[mask, "source"] = (
                offers.loc[mask, "source"].astype(str) + f"; {source} -{pct:g}%"
            )
    for rec in rows:
        offers = _apply_row(offers, rec, name, source)
    return Catalog(
        offers=offers.reset_index(drop=True),
        versions=(*catalog.versions, source),
        overlay=name,
        as_of=catalog.as_of,
        notes=catalog.notes,
    )


def _apply_row(offers: pd.DataFrame, rec: dict[str, Any], file: str, source: str) -> pd.DataFrame:
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
    if provider not in PROVIDERS:
        raise UnknownNameError(
            "provider", provider, PROVIDERS, file=file, row=row, column="provider"
        )
    model = str(rec["purchase_model"])
    if model not in PURCHASE_MODELS:
        raise UnknownNameError(
            "purchase model", model, PURCHASE_MODELS, file=file, row=row, column="purchase_model"
        )
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
    klass = str(rec.get("offering_class", "") or "")
    if klass and klass not in OFFERING_CLASSES:
        raise UnknownNameError(
            "offering class", klass, OFFERING_CLASSES, file=file, row=row, column="offering_class"
        )
    pay = str(rec.get("payment_option", "") or "")
    if pay and pay not in PAYMENT_OPTIONS:
        raise UnknownNameError(
            "payment option", pay, PAYMENT_OPTIONS, file=file, row=row, column="payment_option"
        )
    region, sku = str(rec["region"]), str(rec["sku"])
    provider_rows = offers["provider"] == provider
    if region != "*" and region not in set(offers.loc[provider_rows, "region"]):
        raise UnknownNameError(
            f"{provider} region",
            region,
            set(offers.loc[provider_rows, "region"]) | {"*"},
            file=file,
            row=row,
            column="region",
        )
    mask = (
        provider_rows
        & (offers["sku"] == sku)
        & (offers["purchase_model"] == model)
        & (offers["term_months"] == months)
    )
    if region != "*":
        mask &= offers["region"] == region
    if klass:
        mask &= offers["offering_class"] == klass
    if pay:
        mask &= offers["payment_option"] == pay

    per_gpu, effective = (
        _num(rec, "usd_per_gpu_hour", file),
        _num(rec, "effective_usd_per_hour", file),
    )
    upfront, recurring = _num(rec, "upfront_usd", file), _num(rec, "recurring_usd_per_hour", file)
    if per_gpu is None and effective is None and recurring is None:
        raise PlannerInputError(
            "no price given",
            file=file,
            row=row,
            column="usd_per_gpu_hour",
            fix="give usd_per_gpu_hour, effective_usd_per_hour, or upfront_usd + recurring_usd_per_hour",
        )
    hours = term_hours(months) if months > 0 else 0.0

    def priced(gpus: float, payment: str) -> dict[str, float]:
        """Prices for one offer; an effective rate is split by ``payment`` (the row's payment
        option, else the matched offer's own) with the catalog's rule (assumptions.toml)."""
        if recurring is not None:
            up = upfront or 0.0
            eff = recurring + (up / hours if hours else 0.0)
        else:
            eff = effective if effective is not None else float(per_gpu) * gpus  # type: ignore[arg-type]
            if payment == "all_upfront":
                up, rec_ = eff * hours, 0.0
            elif payment == "partial_upfront":
                up, rec_ = PARTIAL_UPFRONT_SHARE * eff * hours, (1 - PARTIAL_UPFRONT_SHARE) * eff
            else:
                up, rec_ = 0.0, eff
            return {
                "upfront_usd": up,
                "recurring_usd_per_hour": rec_,
                "effective_usd_per_hour": eff,
                "usd_per_gpu_hour": eff / gpus,
            }
        return {
            "upfront_usd": up,
            "recurring_usd_per_hour": recurring,
            "effective_usd_per_hour": eff,
            "usd_per_gpu_hour": eff / gpus,
        }

    if mask.any():
        offers = offers.copy()
        for idx in offers.index[mask]:
            gpus = float(offers.loc[idx, "gpus_per_unit"])  # type: ignore[arg-type]
            payment = pay or str(offers.loc[idx, "payment_option"])
            for col, val in priced(gpus, payment).items():
                offers.at[idx, col] = val
            offers.at[idx, "overlay"] = True
            offers.at[idx, "assumed"] = False
            offers.at[idx, "assumption"] = ""
            offers.at[idx, "source"] = source
            offers.at[idx, "catalog_version"] = source
        return offers
    # a new offer
    if region == "*":
        raise PlannerInputError(
            "region '*' matched no existing offer",
            file=file,
            row=row,
            column="region",
            fix="name a region to add a new offer",
        )
    known = offers[(offers["provider"] == provider) & (offers["sku"] == sku)]
    gpu_text = str(rec.get("gpu_type", "") or "")
    gpus_given = _num(rec, "gpus_per_unit", file)
    if gpu_text:
        gpu_type = canonical_gpu_type(gpu_text, file=file, row=row, column="gpu_type")
    elif not known.empty:
        gpu_type = str(known["gpu_type"].iloc[0])
    else:
        raise PlannerInputError(
            f"sku {sku!r} is not in the {provider} catalog",
            file=file,
            row=row,
            column="gpu_type",
            fix="give gpu_type and gpus_per_unit for a new sku",
        )
    if gpus_given is not None:
        gpus = gpus_given
    elif model == "reserved_contract":
        gpus = 1.0
    elif not known.empty:
        gpus = float(known["gpus_per_unit"].iloc[0])
    else:
        raise PlannerInputError(
            f"gpus_per_unit missing for new sku {sku!r}",
            file=file,
            row=row,
            column="gpus_per_unit",
            fix="write the GPUs per unit",
        )
    if gpus <= 0:
        raise PlannerInputError(
            "must be > 0",
            file=file,
            row=row,
            column="gpus_per_unit",
            value=gpus,
            fix="write the GPUs per unit",
        )
    if model in COMMITMENT_MODELS and not pay:
        pay = "no_upfront"
    if model == "reserved_instance" and not klass:
        raise PlannerInputError(
            "a new RI needs offering_class",
            file=file,
            row=row,
            column="offering_class",
            fix="write standard or convertible",
        )
    parts = (
        [provider, region, sku, model]
        + ([klass] if klass else [])
        + ([str(months), pay] if months else [])
    )
    family = str(known["instance_family"].iloc[0]) if not known.empty else sku.split(".")[0]
    new = {
        "offer_id": ":".join(parts),
        "provider": provider,
        "region": region,
        "sku": sku,
        "instance_family": family,
        "gpu_type": gpu_type,
        "gpus_per_unit": gpus,
        "purchase_model": model,
        "offering_class": klass,
        "term_months": months,
        "payment_option": pay if months else "",
        **priced(gpus, pay),
        "spot_interruption_rate": math.nan,
        "assumed": False,
        "assumption": "",
        "overlay": True,
        "source": source,
        "price_date": pd.Timestamp.now(tz="UTC").date().isoformat(),
        "catalog_version": source,
    }
    return pd.concat([offers, pd.DataFrame([new])], ignore_index=True)
