"""Build the shipped offer catalogs from the public price snapshots (maintainer script).

    python tools/build_catalogs.py            # sources in tools/price_sources (see its README)

Reads the AWS vantage long table, the CoreWeave scrapes and the Lambda 2026-09-20 list; writes
``pricing_data/catalogs/<provider>/<series>-YYYY-MM-DD.csv`` plus a ``.provenance.json`` sidecar each,
applying the labelled rules of ``pricing_data/assumptions.toml`` where no public price exists.
The serverless (scale-to-zero) GPU list is built by :func:`build_serverless` into
``pricing_data/catalogs/serverless/`` (its own schema: :mod:`pricing_data.serverless`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import pandas as pd

from pricing_data.gpu_types import aws_gpu_type, canonical_gpu_type, resolve_gpu_type
from pricing_data.rates import split_payment
from pricing_data.schema import COLUMN_NAMES
from pricing_data.validate import validate_offers

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pricing_data" / "catalogs"
AWS_DATE = "2025-11-30"
LAMBDA_DATE = "2026-09-20"
PAY = {
    "No Upfront": "no_upfront",
    "Partial Upfront": "partial_upfront",
    "All Upfront": "all_upfront",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def offer(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {c: "" for c in COLUMN_NAMES}
    row.update(kw)
    eff = float(row["effective_usd_per_hour"])  # type: ignore[arg-type]
    row["usd_per_gpu_hour"] = round(eff / float(row["gpus_per_unit"]), 6)  # type: ignore[arg-type]
    row["effective_usd_per_hour"] = round(eff, 6)
    row["upfront_usd"] = round(float(row.get("upfront_usd") or 0.0), 4)  # type: ignore[arg-type]
    row["recurring_usd_per_hour"] = round(float(row["recurring_usd_per_hour"]), 6)  # type: ignore[arg-type]
    row.setdefault("overlay", False)
    row["overlay"] = "false"
    row["assumed"] = "true" if row.get("assumed") is True else "false"
    return row


def write(
    provider: str, series: str, day: str, rows: list[dict[str, object]], prov: dict[str, object]
) -> None:
    df = pd.DataFrame(rows, columns=list(COLUMN_NAMES)).sort_values("offer_id")
    path = OUT / provider / f"{series}-{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")
    validate_offers(pd.read_csv(path, dtype=str, keep_default_na=False), str(path))
    prov = {"file": path.name, "rows": len(df), "sha256": sha256(path), **prov}
    path.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}: {len(df)} offers")


def build_aws(src: Path, rules: dict) -> None:  # type: ignore[type-arg]
    path = src / "aws-ec2-gpu-vantage" / "aws_gpu_prices_long.csv"
    d = pd.read_csv(path)
    share = rules["ri_payment_split"]["partial_upfront_share"]
    bands = rules["spot"]["aws_band_midpoints"]
    source = "instances.vantage.sh via tsaol/aws-gpu data/gpu_instances_raw.json@2d0108c"
    ri_rows: list[dict[str, object]] = []
    sp_rows: list[dict[str, object]] = []
    for r in d.itertuples(index=False):
        gpu = aws_gpu_type(r.instance_type, r.gpu_model)
        family = r.instance_type.split(".")[0]
        common = dict(
            provider="aws",
            region=r.region,
            sku=r.instance_type,
            instance_family=family,
            gpu_type=gpu,
            gpus_per_unit=float(r.gpu_count),
            source=source,
            price_date=AWS_DATE,
        )
        base = f"aws:{r.region}:{r.instance_type}"
        price = float(r.usd_per_hour)
        if price <= 0:
            continue
        if r.price_type == "ondemand":
            ri_rows.append(
                offer(
                    offer_id=f"{base}:on_demand",
                    purchase_model="on_demand",
                    term_months=0,
                    recurring_usd_per_hour=price,
                    effective_usd_per_hour=price,
                    **common,
                )
            )
        elif r.price_type == "spot_avg":
            band = r.pct_interrupt if isinstance(r.pct_interrupt, str) else ""
            rate = bands.get(band, "")
            ri_rows.append(
                offer(
                    offer_id=f"{base}:spot",
                    purchase_model="spot",
                    term_months=0,
                    recurring_usd_per_hour=price,
                    effective_usd_per_hour=price,
                    spot_interruption_rate=rate,
                    **common,
                    assumed=band == "" or band in bands,
                    assumption=(
                        f"spot price is vantage's average snapshot; interruption rate = midpoint of band '{band}'"
                        if band
                        else "spot price is vantage's average snapshot; interruption rate unknown"
                    ),
                )
            )
        elif r.price_type == "reserved":
            months = 12 if r.term == "1yr" else 36
            pay = PAY[r.payment_option]
            upfront, recurring = split_payment(price, months, pay, share)
            ri_rows.append(
                offer(
                    offer_id=f"{base}:reserved_instance:{r.offering_class}:{months}:{pay}",
                    purchase_model="reserved_instance",
                    offering_class=r.offering_class,
                    term_months=months,
                    payment_option=pay,
                    upfront_usd=upfront,
                    recurring_usd_per_hour=recurring,
                    effective_usd_per_hour=price,
                    **common,
                )
            )
            for model, klass in (
                ("ec2_instance_savings_plan", "standard"),
                ("compute_savings_plan", "convertible"),
            ):
                if rules["savings_plans"][model] != r.offering_class:
                    continue
                sp_rows.append(
                    offer(
                        offer_id=f"{base}:{model}:{months}:{pay}",
                        purchase_model=model,
                        term_months=months,
                        payment_option=pay,
                        upfront_usd=upfront,
                        recurring_usd_per_hour=recurring,
                        effective_usd_per_hour=price,
                        **common,
                        assumed=True,
                        assumption=(
                            f"SP rate = {klass} RI effective rate for the same instance type, region, term "
                            "and payment option (AWS's maximum SP discount equals the RI maximum)"
                        ),
                    )
                )
    prov = {
        "provider": "aws",
        "source": "AWS public list prices compiled by instances.vantage.sh (ec2instances.info), "
        "snapshot committed to github.com/tsaol/aws-gpu data/gpu_instances_raw.json at 2d0108c",
        "date": AWS_DATE,
        "date_note": "on or before 2025-11-30 (commit date); on-demand cross-checked unchanged to 2026-09",
        "licence": "prices are AWS's public list prices (facts); tsaol/aws-gpu README carries an MIT badge",
        "upstream_file": "aws_gpu_prices_long.csv",
        "upstream_sha256": sha256(path),
        "derivation": "tools/build_catalogs.py: Linux on-demand, spot_avg (with interruption band "
        "midpoint), 12 RI variants; RI effective rates split into upfront/recurring by "
        "pricing_data/assumptions.toml [ri_payment_split]",
    }
    write("aws", "aws-ec2-gpu", AWS_DATE, ri_rows, prov)
    prov_sp = dict(prov)
    prov_sp["derivation"] = (
        "tools/build_catalogs.py: ASSUMED Savings Plans rates per SKU from RI rates, rule "
        "pricing_data/assumptions.toml [savings_plans]; replace with `planner prices refresh --provider aws`"
    )
    write("aws", "aws-savings-plans", AWS_DATE, sp_rows, prov_sp)


def cw_region(name: str) -> str:
    return name.strip().lower().replace(" ", "-")


def cw_sku(model: str) -> str:
    return re.sub(r"^NVIDIA\s+", "", model.strip())


def build_coreweave(src: Path, rules: dict, day: str | None) -> None:  # type: ignore[type-arg]
    path = src / "coreweave-pricing" / "coreweave_gpu_prices_long.csv"
    d = pd.read_csv(path)
    day = day or str(d["scrape_date"].max())
    d = d[d["scrape_date"] == day]
    discounts = rules["reserved_contracts"]["coreweave"]["discount_by_term_months"]
    spot_rate = rules["spot"]["coreweave_interruption_rate"]
    src_url = str(d["source"].iloc[0])
    rows: list[dict[str, object]] = []
    for r in d.itertuples(index=False):
        # "NVIDIA A100" alone is ambiguous: the page's VRAM column says which one
        gpu = resolve_gpu_type(r.model) or canonical_gpu_type(
            f"{r.model} {int(r.vram_gb_per_gpu)}GB"
        )
        n = float(r.gpus_per_instance)
        sku = cw_sku(r.model)
        region = cw_region(r.region)
        common = dict(
            provider="coreweave",
            region=region,
            instance_family=sku,
            gpu_type=gpu,
            source=src_url,
            price_date=day,
        )
        base = f"coreweave:{region}:{sku}"
        od = r.ondemand_usd_per_instance_hour
        if isinstance(od, float) and not math.isnan(od) and od > 0:
            rows.append(
                offer(
                    offer_id=f"{base}:on_demand",
                    sku=sku,
                    gpus_per_unit=n,
                    purchase_model="on_demand",
                    term_months=0,
                    recurring_usd_per_hour=od,
                    effective_usd_per_hour=od,
                    **common,
                )
            )
            per_gpu = od / n
            for months_s, disc in discounts.items():
                months = int(months_s)
                rate = per_gpu * (1 - disc)
                rows.append(
                    offer(
                        offer_id=f"{base}:reserved_contract:{months}:no_upfront",
                        sku=sku,
                        gpus_per_unit=1.0,
                        purchase_model="reserved_contract",
                        term_months=months,
                        payment_option="no_upfront",
                        recurring_usd_per_hour=rate,
                        effective_usd_per_hour=rate,
                        **common,
                        assumed=True,
                        assumption=f"reserved contract = on-demand per-GPU price less {disc:.0%} for a "
                        f"{months}-month term, billed monthly (CoreWeave: 'up to 60%' for committed usage; "
                        "sales-quoted)",
                    )
                )
        spot = r.spot_usd_per_instance_hour
        if isinstance(spot, float) and not math.isnan(spot) and spot > 0:
            rows.append(
                offer(
                    offer_id=f"{base}:spot",
                    sku=sku,
                    gpus_per_unit=n,
                    purchase_model="spot",
                    term_months=0,
                    recurring_usd_per_hour=spot,
                    effective_usd_per_hour=spot,
                    spot_interruption_rate=spot_rate,
                    **common,
                    assumed=True,
                    assumption=f"spot price is published; interruption rate {spot_rate} assumed",
                )
            )
    prov = {
        "provider": "coreweave",
        "source": f"{src_url} scraped daily by github.com/PrashantSedhain/coreweave-pricing-tracker",
        "date": day,
        "licence": "CoreWeave's public list prices (facts); the tracker repo has no LICENSE file",
        "upstream_file": "coreweave_gpu_prices_long.csv",
        "upstream_sha256": sha256(path),
        "derivation": "tools/build_catalogs.py: on-demand and spot per instance from the scrape of this "
        "date; reserved contracts ASSUMED per pricing_data/assumptions.toml [reserved_contracts.coreweave]",
    }
    write("coreweave", "coreweave", day, rows, prov)


def build_lambda(src: Path, rules: dict) -> None:  # type: ignore[type-arg]
    path = src / "lambda-cloud-apievangelist" / "lambda-labs-plans-pricing.yml"
    text = path.read_text()
    discounts = rules["reserved_contracts"]["lambda"]["discount_by_term_months"]
    plans = re.findall(r"- name: (.+)\n\s+price_text: .*\n\s+price: ([\d.]+)", text)
    src_url = "https://lambda.ai/instances"
    rows: list[dict[str, object]] = []
    contract_base: dict[str, tuple[str, float]] = {}
    for name, price_s in plans:
        m = re.match(r"(\d+)x (.+)", name.strip())
        if not m:
            continue
        n = float(m.group(1))
        gpu = canonical_gpu_type(m.group(2))
        sku = name.strip().replace("NVIDIA ", "")
        per_gpu = float(price_s)
        unit = per_gpu * n
        common = dict(
            provider="lambda",
            region="global",
            instance_family=sku,
            gpu_type=gpu,
            source=src_url,
            price_date=LAMBDA_DATE,
        )
        rows.append(
            offer(
                offer_id=f"lambda:global:{sku}:on_demand",
                sku=sku,
                gpus_per_unit=n,
                purchase_model="on_demand",
                term_months=0,
                recurring_usd_per_hour=unit,
                effective_usd_per_hour=unit,
                **common,
            )
        )
        # contracts are priced off the largest (usually cheapest per GPU) configuration
        if gpu not in contract_base or n > float(contract_base[gpu][0].split("x")[0]):
            contract_base[gpu] = (sku, per_gpu)
    for gpu, (sku, per_gpu) in sorted(contract_base.items()):
        csku = f"{gpu} reserved"
        for months_s, disc in discounts.items():
            months = int(months_s)
            rate = per_gpu * (1 - disc)
            rows.append(
                offer(
                    offer_id=f"lambda:global:{csku}:reserved_contract:{months}:no_upfront",
                    sku=csku,
                    instance_family=csku,
                    gpus_per_unit=1.0,
                    gpu_type=gpu,
                    provider="lambda",
                    region="global",
                    purchase_model="reserved_contract",
                    term_months=months,
                    payment_option="no_upfront",
                    recurring_usd_per_hour=rate,
                    effective_usd_per_hour=rate,
                    source=src_url,
                    price_date=LAMBDA_DATE,
                    assumed=True,
                    assumption=f"reserved contract = {sku} on-demand per-GPU price less {disc:.0%} for a "
                    f"{months}-month term, billed monthly (Lambda reserved capacity is sales-quoted)",
                )
            )
    prov = {
        "provider": "lambda",
        "source": "https://lambda.ai/instances, transcribed in github.com/api-evangelist/lambda-labs "
        "plans/lambda-labs-plans-pricing.yml@1929382 (generated 2026-09-20)",
        "date": LAMBDA_DATE,
        "licence": "Lambda's public list prices (facts); the transcribing repo has no LICENSE file",
        "upstream_file": "lambda-labs-plans-pricing.yml",
        "upstream_sha256": sha256(path),
        "derivation": "tools/build_catalogs.py: on-demand per configuration (per-GPU price x GPUs); "
        "reserved contracts ASSUMED per pricing_data/assumptions.toml [reserved_contracts.lambda]",
    }
    write("lambda", "lambda", LAMBDA_DATE, rows, prov)


def build_serverless(src: Path, rules: dict) -> None:  # type: ignore[type-arg]
    """Modal and Replicate per-GPU-second list prices with their billing parameters.

    Prices are published (copied as given, per second and per hour); the billing increment, the
    cold-start overhead and the pinned-region multiplier come from ``assumptions.toml
    [serverless.<provider>]`` and are flagged ``parameters_assumed`` with the rule written out.
    """
    from pricing_data.serverless import SERVERLESS_COLUMNS, validate_serverless

    path = src / "serverless-gpu" / "serverless_gpu_2026-05-07.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows: list[dict[str, object]] = []
    for r in raw.itertuples(index=False):
        provider = str(r.provider)
        par = rules["serverless"][provider]
        gpu = canonical_gpu_type(str(r.gpu_type))
        source = str(r.source)
        if source == "same":
            source = str(raw["source"].iloc[0])
        rows.append(
            {
                "offer_id": f"{provider}:any:{gpu}:serverless",
                "provider": provider,
                "region": "any",
                "gpu_type": gpu,
                "usd_per_gpu_second": float(r.usd_per_gpu_second),
                "usd_per_gpu_hour": float(r.usd_per_gpu_hour),
                "billing": str(r.billing),
                "billing_increment_s": float(par["billing_increment_s"]),
                "cold_start_overhead_pct": float(par["cold_start_overhead_pct"]),
                "pinned_region_multiplier": float(par["pinned_region_multiplier"]),
                "assumed": "false",
                "parameters_assumed": "true",
                "assumption": str(par["rule"]),
                "source": source,
                "price_date": str(r.source_date),
            }
        )
    day = str(raw["source_date"].max())
    df = pd.DataFrame(rows, columns=list(SERVERLESS_COLUMNS)).sort_values("offer_id")
    out = OUT / "serverless" / f"serverless-gpu-{day}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, lineterminator="\n")
    validate_serverless(pd.read_csv(out, dtype=str, keep_default_na=False), str(out))
    prov = {
        "file": out.name,
        "rows": len(df),
        "sha256": sha256(out),
        "provider": "modal, replicate",
        "source": "techbytes.app 'Serverless GPU Pricing Matrix [2026 Developer Cheat Sheet]' "
        "(2026-05-07), prices stated as verified that day from modal.com/pricing and "
        "replicate.com/pricing; facts collected 2026-11-30 (tools/price_sources/serverless-gpu)",
        "date": day,
        "licence": "vendors' public list prices (facts)",
        "upstream_file": path.name,
        "upstream_sha256": sha256(path),
        "derivation": "tools/build_catalogs.py build_serverless: prices copied as published; "
        "billing_increment_s, cold_start_overhead_pct and pinned_region_multiplier ASSUMED per "
        "pricing_data/assumptions.toml [serverless.<provider>]",
    }
    out.with_suffix(".provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}: {len(df)} serverless offers")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", type=Path, default=ROOT / "tools" / "price_sources")
    ap.add_argument(
        "--coreweave-date",
        action="append",
        default=None,
        help="scrape date(s) to ship (default: 2026-03-13 and the latest)",
    )
    a = ap.parse_args()
    rules = tomllib.loads((ROOT / "pricing_data" / "assumptions.toml").read_text())
    build_aws(a.source, rules)
    for day in a.coreweave_date or ["2026-03-13", None]:
        build_coreweave(a.source, rules, day)
    build_lambda(a.source, rules)
    build_serverless(a.source, rules)


if __name__ == "__main__":
    main()
