"""The policy file (TOML): every planning choice in one place, with CLI overrides.

``planner policy init`` writes :data:`TEMPLATE`, a commented file whose values are the defaults.
Sections and keys (every key optional):

``[planning]``    horizon_months, ladder_every_months, scenarios, seed, catalog_as_of, overlay,
                  default_aws_region
``[offers]``      providers, purchase_models, terms_months, payment_options, offering_classes,
                  min_purchase_usd_per_hour
``[risk]``        cvar_beta, cvar_limit_usd, cvar_limit_pct, min_utilization, min_utilization_tail,
                  upfront_budget_usd, max_share_per_provider, risk_aversion, risk_pricing
``[spot]``        overhead_pct, cap_share, checkpoint_interval_h, restart_h, price_spread_pct
``[finance]``     discount_rate_pct (cost of capital, %/yr), tail_step_months, tail_blocks,
                  tail_min_volatility_pct
``[portability]`` egress_usd_per_gb, data_gb_per_gpu_hour (a table: workload -> GB per GPU-hour,
                  ``default`` for the rest)
``[growth]``      annual_pct; ``[[growth.steps]]`` with at, pct and/or add_gpus, pools (see
                  forecasting.growth)
``[solver]``      integer, integer_method, solver, time_limit_s, mip_gap, time_reduction, period, blocks_per_period,
                  savings_curve_points, bound_rounds, scenario_reduction, reduce_scenarios_to,
                  decomposition
``[serverless]``  providers, hybrid, min_warm_gpus, pin_region, cold_start_overhead_pct,
                  gpu_seconds_per_request (see planner.serverless_policy)
``[[pools]]``     match, interruptible, portable, aws_region, spot_cap_share, scale_to_zero
                  (see forecasting.pools)

Egress: a portable workload running off AWS pays ``egress_usd_per_gb × data_gb_per_gpu_hour`` per
GPU-hour. The optimizer takes one $/GPU-hour; we use the largest over the portable workloads named in
the pool rules (a conservative choice: no workload is under-charged).

Overrides (``--set section.key=value`` in every command, ``--what-if`` in ``planner whatif``) take
TOML values (``risk.cvar_limit_pct=5``, ``offers.providers=["aws"]``); ``5%`` means 5. Shorthands:
``growth=+40%`` (``growth.annual_pct=40``: annual compound growth on top of the forecast, not a
one-off level change), ``exclude=coreweave`` (drop a provider), ``only=aws``, ``horizon=24mo`` (a
duration with a unit; a bare number is refused), ``risk.cvar_limit=5%`` (percent of commitment
spend) or ``risk.cvar_limit=250000`` (USD).

Without a policy file the defaults of :class:`~planner.policy.Policy` apply plus a risk bound,
:data:`NO_POLICY_DEFAULTS`; :func:`defaults_in_force` says which, :func:`config_to_toml` prints the
settings in force as a policy file (``planner policy show``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from forecasting.growth import Growth
from forecasting.pools import PoolRule
from planner.policy import Policy
from planner.serverless_policy import KEYS as SERVERLESS_KEYS
from planner.serverless_policy import ServerlessPolicy
from pricing_data.errors import PlannerInputError, UnknownNameError
from pricing_data.schema import PROVIDERS
from pricing_data.units import parse_months

SECTIONS: dict[str, tuple[str, ...]] = {
    "planning": (
        "horizon_months",
        "ladder_every_months",
        "scenarios",
        "seed",
        "catalog_as_of",
        "overlay",
        "default_aws_region",
    ),
    "offers": (
        "providers",
        "purchase_models",
        "terms_months",
        "payment_options",
        "offering_classes",
        "min_purchase_usd_per_hour",
    ),
    "risk": (
        "cvar_beta",
        "cvar_limit_usd",
        "cvar_limit_pct",
        "min_utilization",
        "min_utilization_tail",
        "upfront_budget_usd",
        "max_share_per_provider",
        "risk_aversion",
        "risk_pricing",
    ),
    "spot": ("overhead_pct", "cap_share", "checkpoint_interval_h", "restart_h", "price_spread_pct"),
    "finance": (
        "discount_rate_pct",
        "valuation",
        "tail_step_months",
        "tail_blocks",
        "tail_min_volatility_pct",
    ),
    "portability": ("egress_usd_per_gb", "data_gb_per_gpu_hour"),
    "growth": ("annual_pct", "steps"),
    "solver": (
        "integer",
        "integer_method",
        "solver",
        "time_limit_s",
        "mip_gap",
        "time_reduction",
        "period",
        "blocks_per_period",
        "savings_curve_points",
        "bound_rounds",
        "scenario_reduction",
        "reduce_scenarios_to",
        "decomposition",
    ),
    "serverless": SERVERLESS_KEYS,
    "pools": (),
}
# policy-file key -> Policy field, where the names differ
_POLICY_FIELD = {
    ("spot", "overhead_pct"): "spot_overhead_pct",
    ("spot", "cap_share"): "spot_cap_share",
    ("spot", "checkpoint_interval_h"): "spot_checkpoint_interval_h",
    ("spot", "restart_h"): "spot_restart_h",
    ("spot", "price_spread_pct"): "spot_price_spread_pct",
}
_NOT_POLICY = {
    ("planning", "scenarios"),
    ("planning", "seed"),
    ("planning", "catalog_as_of"),
    ("planning", "overlay"),
    ("planning", "default_aws_region"),
    ("portability", "egress_usd_per_gb"),
    ("portability", "data_gb_per_gpu_hour"),
}


@dataclass(frozen=True)
class PlanningConfig:
    """The policy plus what the run needs around it (forecast size, seed, catalog, pools, growth)."""

    policy: Policy = field(default_factory=Policy)
    scenarios: int = 100
    seed: int = 0
    catalog_as_of: str | None = None
    overlay: str | None = None
    default_aws_region: str = "us-east-1"
    egress_usd_per_gb: float = 0.09
    data_gb_per_gpu_hour: tuple[tuple[str, float], ...] = (("default", 1.0),)
    growth: Growth = field(default_factory=Growth)
    pool_rules: tuple[PoolRule, ...] = ()
    serverless: ServerlessPolicy = field(default_factory=ServerlessPolicy)
    source: str = "(defaults)"
    #: no policy file was given: the defaults are in force (see :func:`defaults_in_force`)
    from_defaults: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_dict(),
            "scenarios": self.scenarios,
            "seed": self.seed,
            "catalog_as_of": self.catalog_as_of,
            "overlay": self.overlay,
            "default_aws_region": self.default_aws_region,
            "egress_usd_per_gb": self.egress_usd_per_gb,
            "data_gb_per_gpu_hour": dict(self.data_gb_per_gpu_hour),
            "growth": _growth_doc(self.growth),
            "pool_rules": [
                {
                    "match": {k: v if isinstance(v, str) else list(v) for k, v in r.match.items()},
                    "interruptible": r.interruptible,
                    "portable": r.portable,
                    "aws_region": r.aws_region,
                    **({} if r.spot_cap_share is None else {"spot_cap_share": r.spot_cap_share}),
                    **({"scale_to_zero": True} if r.scale_to_zero else {}),
                }
                for r in self.pool_rules
            ],
            **(
                {"serverless": self.serverless.to_doc()}
                if self.serverless != ServerlessPolicy()
                else {}
            ),
            "source": self.source,
        }


def _growth_doc(g: Growth) -> dict[str, Any]:
    doc: dict[str, Any] = {"annual_pct": g.annual_pct}
    if g.steps:
        doc["steps"] = [
            {"at": s.at.isoformat(), "add_gpus": s.add_gpus, "pct": s.pct, "pools": list(s.pools)}
            for s in g.steps
        ]
    return doc


def _portable_workloads(rules: tuple[PoolRule, ...]) -> list[str]:
    out: list[str] = []
    for r in rules:
        if r.portable:
            w = r.match.get("workload", "*")
            out.extend([w] if isinstance(w, str) else list(w))
    return out


def egress_usd_per_gpu_hour(cfg: PlanningConfig) -> float:
    """The largest egress $/GPU-hour over portable workloads (the default size if none is named)."""
    sizes = dict(cfg.data_gb_per_gpu_hour)
    default = sizes.get("default", 1.0)
    workloads = _portable_workloads(cfg.pool_rules) or ["default"]
    gb = max(sizes.get(w, default) for w in workloads)
    return cfg.egress_usd_per_gb * gb


def _section_error(file: str, section: str, key: str) -> UnknownNameError:
    return UnknownNameError(
        f"policy key in [{section}]", key, SECTIONS[section], file=file, column=f"{section}.{key}"
    )


def _number(value: Any, file: str, column: str, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlannerInputError(
            "must be a number", file=file, column=column, value=value, fix="write a plain number"
        )
    if not math.isfinite(value):
        raise PlannerInputError(
            "must be a finite number", file=file, column=column, value=value, fix="write e.g. 12"
        )
    if integer and value != int(value):
        raise PlannerInputError(
            "must be a whole number", file=file, column=column, value=value, fix="write e.g. 12"
        )
    return float(value)


def config_from_dict(doc: dict[str, Any], file: str = "(policy)") -> PlanningConfig:
    """Build and check a :class:`PlanningConfig` from a parsed policy document: the sections
    (:func:`_split_sections`), growth (:func:`_growth`), pool rules (:func:`_pool_rules`), then the
    policy itself, type-checked and validated (:func:`_policy`)."""
    for section in doc:
        if section not in SECTIONS:
            raise UnknownNameError("policy section", section, SECTIONS, file=file, column=section)
    policy_kwargs, cfg_kwargs = _split_sections(doc, file)
    cfg_kwargs["source"] = file
    cfg_kwargs["growth"] = _growth(doc.get("growth"), file)
    cfg_kwargs["pool_rules"] = _pool_rules(doc.get("pools", []), file)
    cfg_kwargs["serverless"] = ServerlessPolicy.parse(doc.get("serverless"), file)
    from planner.validate_policy import check_config

    cfg = PlanningConfig(policy=_policy(policy_kwargs, file), **cfg_kwargs)
    check_config(cfg, file)  # finite numbers, growth > -100 %, horizon <= 10 years
    return cfg


def _growth(growth_doc: Any, file: str) -> Growth:
    if isinstance(growth_doc, dict) and not isinstance(
        growth_doc.get("annual_pct", 0.0), int | float
    ):
        raise PlannerInputError(
            "must be a number",
            file=file,
            column="growth.annual_pct",
            value=growth_doc.get("annual_pct"),
            fix="write e.g. 30 for +30%/year",
        )
    try:
        return Growth.parse(growth_doc)
    except (TypeError, ValueError) as e:
        raise PlannerInputError(
            f"bad growth value: {e}", file=file, column="growth", fix="see `planner policy init`"
        ) from None
    except PlannerInputError as e:
        raise PlannerInputError(
            e.what, file=file, column=f"growth.{e.column or 'steps'}", value=e.value, fix=e.fix
        ) from None


def _split_sections(doc: dict[str, Any], file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Policy fields, PlanningConfig fields) from the key = value sections of a policy file."""
    policy_kwargs: dict[str, Any] = {}
    cfg_kwargs: dict[str, Any] = {}
    for section, keys in SECTIONS.items():
        if section in ("pools", "growth", "serverless"):
            continue
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise PlannerInputError(
                f"[{section}] must be a table",
                file=file,
                column=section,
                fix=f"write [{section}] then key = value lines",
            )
        for key, value in table.items():
            if key not in keys:
                raise _section_error(file, section, key)
            if (section, key) in _NOT_POLICY:
                _config_value(cfg_kwargs, section, key, value, file, f"{section}.{key}")
            else:
                field_name = str(_POLICY_FIELD.get((section, key), key))
                policy_kwargs[field_name] = tuple(value) if isinstance(value, list) else value
    return policy_kwargs, cfg_kwargs


def _pool_rules(rules: Any, file: str) -> tuple[PoolRule, ...]:
    if not isinstance(rules, list):
        raise PlannerInputError(
            "[[pools]] must be a list of tables",
            file=file,
            column="pools",
            fix="write each rule as a [[pools]] table",
        )
    return tuple(
        PoolRule.from_dict(r, where=f"{file} [[pools]] #{i + 1}") for i, r in enumerate(rules)
    )


def _policy(policy_kwargs: dict[str, Any], file: str) -> Policy:
    for name, value in policy_kwargs.items():
        _check_type(name, value, file)
    try:
        policy = Policy(**policy_kwargs)
    except TypeError as e:
        raise PlannerInputError(
            f"bad policy value: {e}", file=file, fix="check the types in the policy file"
        ) from None
    try:
        policy.validate()
    except PlannerInputError as e:
        raise PlannerInputError(
            e.what, file=file, column=_file_key(e.column), value=e.value, fix=e.fix
        ) from None
    _check_contradictions(policy, file)
    return policy


_KIND_WORD = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a string",
    "list": "a list",
}
_KIND_FIX = {
    "bool": "write true or false",
    "int": "write a whole number",
    "float": "write a number",
    "str": 'write a quoted string, e.g. "exact"',
    "list": "write a list, e.g. [12, 36]",
}


def _kind(annotation: str) -> tuple[str, bool]:
    """('bool'|'int'|'float'|'str'|'list', optional) from a Policy field's annotation text."""
    optional = "None" in annotation
    base = annotation.replace("| None", "").strip()
    if base.startswith("tuple"):
        return "list", optional
    return base, optional


def _check_type(name: str, value: Any, file: str) -> None:
    """A policy value of the wrong type is a usage error naming the key (not a traceback later)."""
    types = {f.name: str(f.type) for f in fields(Policy)}
    if name not in types:
        return
    kind, optional = _kind(types[name])
    if value is None:
        if optional:
            return
        ok = False
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "list":
        # each element too: [12, ""] must not reach the policy's own checks as a string
        inner = types[name].split("[", 1)[-1].split(",", 1)[0].strip()
        element = {"int": int, "float": int | float, "str": str}.get(inner)
        ok = isinstance(value, list | tuple) and (
            element is None
            or all(isinstance(v, element) and not isinstance(v, bool) for v in value)
        )
        if not ok and isinstance(value, list | tuple):
            kind = "list"
            words = {"int": "whole numbers", "float": "numbers", "str": "quoted strings"}
            raise PlannerInputError(
                f"must be a list of {words.get(inner, inner)}",
                file=file,
                column=_file_key(name),
                value=value,
                fix="write e.g. [12, 36]" if inner == "int" else 'write e.g. ["aws", "lambda"]',
            )
    else:
        ok = True
    if not ok:
        raise PlannerInputError(
            "must be " + _KIND_WORD.get(kind, kind) + (" or empty" if optional else ""),
            file=file,
            column=_file_key(name),
            value=value,
            fix=_KIND_FIX.get(kind, "check the value"),
        )


def _file_key(policy_field: str | None) -> str | None:
    if policy_field is None:
        return None
    for (section, key), name in _POLICY_FIELD.items():
        if name == policy_field:
            return f"{section}.{key}"
    for section, keys in SECTIONS.items():
        if policy_field in keys:
            return f"{section}.{policy_field}"
    return policy_field


def _config_value(
    out: dict[str, Any], section: str, key: str, value: Any, file: str, column: str
) -> None:
    if (section, key) == ("planning", "scenarios"):
        n = int(_number(value, file, column, integer=True))
        if not 1 <= n <= 2000:
            raise PlannerInputError(
                "must be between 1 and 2000",
                file=file,
                column=column,
                value=value,
                fix="use e.g. 100",
            )
        out["scenarios"] = n
    elif (section, key) == ("planning", "seed"):
        seed = int(_number(value, file, column, integer=True))
        if seed < 0:
            raise PlannerInputError(
                "must be >= 0", file=file, column=column, value=value, fix="use e.g. 0 or 7"
            )
        out["seed"] = seed
    elif key in ("catalog_as_of", "overlay", "default_aws_region"):
        if not isinstance(value, str) or not value:
            raise PlannerInputError(
                "must be a string",
                file=file,
                column=column,
                value=value,
                fix='write e.g. "2026-09-30"',
            )
        out[key] = value
    elif key == "egress_usd_per_gb":
        v = _number(value, file, column)
        if v < 0:
            raise PlannerInputError(
                "must be >= 0", file=file, column=column, value=value, fix="use e.g. 0.09"
            )
        out[key] = v
    elif key == "data_gb_per_gpu_hour":
        if not isinstance(value, dict):
            raise PlannerInputError(
                "must be a table workload = GB",
                file=file,
                column=column,
                value=value,
                fix="write { default = 1.0, training = 0.2 }",
            )
        out[key] = tuple((str(k), _number(v, file, f"{column}.{k}")) for k, v in value.items())


def _check_contradictions(policy: Policy, file: str) -> None:
    if policy.cvar_limit_usd is not None and policy.cvar_limit_pct is not None:
        raise PlannerInputError(
            "risk.cvar_limit_usd and risk.cvar_limit_pct are both set",
            file=file,
            column="risk.cvar_limit_pct",
            fix="keep one of the two limits",
        )
    if not policy.providers:
        raise PlannerInputError(
            "no provider is allowed",
            file=file,
            column="offers.providers",
            fix='allow at least one, e.g. ["aws"]',
        )
    if "aws" not in policy.providers and not any(
        m == "reserved_contract" for m in policy.purchase_models
    ):
        raise PlannerInputError(
            "AWS is excluded and reserved contracts are not allowed: nothing can be committed",
            file=file,
            column="offers.purchase_models",
            fix='allow "reserved_contract" or the aws provider',
        )
    if policy.purchase_models and not policy.terms_months:
        raise PlannerInputError(
            "no term is allowed", file=file, column="offers.terms_months", fix="allow e.g. [12, 36]"
        )


#: Without a policy file a plan is still bounded: CVaR (β = 0.9) of unused commitment spend at most
#: this percent of commitment spend, with used hours valued at each commitment's own price
#: ("exact" risk pricing: the conservative pricing can call an inventory alone out of bounds).
#: A policy file states its own bounds (or none).
DEFAULT_CVAR_LIMIT_PCT = 15.0
NO_POLICY_DEFAULTS: dict[str, Any] = {
    "risk": {"cvar_limit_pct": DEFAULT_CVAR_LIMIT_PCT, "risk_pricing": "exact"}
}


def read_policy_file(path: str | Path | None) -> PlanningConfig:
    """Read, check and return the planning configuration.

    Without a file (``path`` None): the defaults of :class:`~planner.policy.Policy`, plus the
    default risk bound :data:`NO_POLICY_DEFAULTS` (a plan is never unbounded by accident); the
    config's ``defaults_used`` says so.
    """
    if path is None:
        return replace(config_from_dict(NO_POLICY_DEFAULTS, "(defaults)"), from_defaults=True)
    p = Path(path)
    if not p.is_file():
        raise PlannerInputError(
            "policy file not found",
            file=str(path),
            fix="check the --policy path, or run `planner policy init`",
        )
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM is not a statement
    except UnicodeDecodeError:
        raise PlannerInputError(
            "not a UTF-8 text file", file=str(path), fix="save the policy as UTF-8 TOML"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise PlannerInputError(
            f"not valid TOML: {e}", file=str(path), fix="fix the TOML syntax"
        ) from None
    cfg = config_from_dict(doc, str(path))
    if cfg.overlay and not Path(cfg.overlay).is_absolute():
        cfg = replace(cfg, overlay=str(p.parent / cfg.overlay))
    return cfg


def defaults_in_force(cfg: PlanningConfig) -> list[str]:
    """The defaults a run without a policy file uses (empty when a policy file was given)."""
    if not cfg.from_defaults:
        return []
    p = cfg.policy
    notes = []
    if p.cvar_limit_pct is not None:
        notes.append(
            f"risk bound risk.cvar_limit_pct={p.cvar_limit_pct:g} (CVaR at {p.cvar_beta:g} of "
            f"unused commitment spend <= {p.cvar_limit_pct:g}% of commitment spend, "
            f"risk_pricing {p.risk_pricing})"
        )
    elif p.cvar_limit_usd is None and p.min_utilization is None:
        notes.append("no risk bound (removed with --set)")
    notes.append(
        f"horizon {p.horizon_months} months, {cfg.scenarios} scenarios, seed {cfg.seed}, "
        f"providers {', '.join(p.providers)}, egress {cfg.egress_usd_per_gb:g} USD/GB"
    )
    return notes


def _parse_value(text: str) -> Any:
    t = text.strip()
    if t == "":
        return None  # key= unsets an optional setting (e.g. drop a risk bound)
    if t.endswith("%"):
        t = t[:-1].lstrip("+")
    try:
        return tomllib.loads(f"v = {t}")["v"]
    except tomllib.TOMLDecodeError:
        return t


def _raw_value(text: str) -> str:
    return text.split("=", 1)[1].strip() if "=" in text else ""


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value) with TOML value parsing; raises a usage error otherwise."""
    if "=" not in text:
        raise PlannerInputError(
            "an override is key=value",
            column="--set",
            value=text,
            fix="write e.g. risk.cvar_limit_pct=5",
        )
    key, value = text.split("=", 1)
    return key.strip(), _parse_value(value)


def apply_overrides(
    cfg: PlanningConfig, overrides: list[str] | tuple[str, ...], *, source: str = "--set"
) -> PlanningConfig:
    """A new config with ``key=value`` overrides applied over the file's values."""
    if not overrides:
        return cfg
    doc = config_to_doc(cfg)
    for text in overrides:
        key, value = parse_override(text)
        if key == "growth":
            doc["growth"]["annual_pct"] = value
        elif key in ("exclude", "only"):
            names = [value] if isinstance(value, str) else list(value)
            for n in names:
                if n not in PROVIDERS:
                    raise UnknownNameError("provider", str(n), PROVIDERS, column=f"{source} {key}")
            current = doc.setdefault("offers", {}).get("providers", list(PROVIDERS))
            doc["offers"]["providers"] = (
                [p for p in current if p not in names] if key == "exclude" else names
            )
        elif key == "risk.cvar_limit":
            # shorthand: a percentage ("5%") limits the share, a plain number the dollars
            field = "cvar_limit_pct" if _raw_value(text).endswith("%") else "cvar_limit_usd"
            other = "cvar_limit_usd" if field == "cvar_limit_pct" else "cvar_limit_pct"
            doc.setdefault("risk", {})[field] = value
            doc["risk"].pop(other, None)
        elif key == "horizon":
            doc.setdefault("planning", {})["horizon_months"] = parse_months(
                _raw_value(text), column=f"{source} horizon"
            )
        elif "." in key:
            section, name = key.split(".", 1)
            if section not in SECTIONS or section == "pools":
                raise UnknownNameError(
                    "policy section", section, [s for s in SECTIONS if s != "pools"], column=source
                )
            if name not in SECTIONS[section]:
                raise UnknownNameError(
                    f"policy key in [{section}]", name, SECTIONS[section], column=source
                )
            doc.setdefault(section, {})[name] = value
        else:
            all_keys = [f"{s}.{k}" for s, ks in SECTIONS.items() for k in ks] + [
                "growth",
                "exclude",
                "only",
                "horizon",
            ]
            raise UnknownNameError("override", key, all_keys, column=source)
    return replace(
        config_from_dict(doc, f"{cfg.source} + {source}"), from_defaults=cfg.from_defaults
    )


def config_to_doc(cfg: PlanningConfig) -> dict[str, Any]:
    pol = cfg.policy.to_dict()
    doc: dict[str, Any] = {s: {} for s in SECTIONS if s not in ("pools", "growth", "serverless")}
    for section, keys in SECTIONS.items():
        for key in keys:
            if (section, key) in _NOT_POLICY or section in ("pools", "growth", "serverless"):
                continue
            name = _POLICY_FIELD.get((section, key), key)
            if pol.get(name) is not None:
                doc[section][key] = pol[name]
    doc["planning"].update(
        {"scenarios": cfg.scenarios, "seed": cfg.seed, "default_aws_region": cfg.default_aws_region}
    )
    if cfg.catalog_as_of:
        doc["planning"]["catalog_as_of"] = cfg.catalog_as_of
    if cfg.overlay:
        doc["planning"]["overlay"] = cfg.overlay
    doc["portability"] = {
        "egress_usd_per_gb": cfg.egress_usd_per_gb,
        "data_gb_per_gpu_hour": dict(cfg.data_gb_per_gpu_hour),
    }
    doc["growth"] = _growth_doc(cfg.growth)
    if cfg.serverless != ServerlessPolicy():
        doc["serverless"] = cfg.serverless.to_doc()
    doc["pools"] = cfg.to_dict()["pool_rules"]
    for r in doc["pools"]:
        if r["aws_region"] is None:
            del r["aws_region"]
    return doc


TEMPLATE = """# Planning policy for `planner plan --policy policy.toml`.
# Every key is optional; the values shown are the defaults. CLI flags and --set override this file.

[planning]
horizon_months = 12          # months to plan from the end of the usage history
ladder_every_months = 3      # tentative purchases every 3 months after "now" (0: buy only now)
scenarios = 100              # demand scenarios simulated by the forecaster
seed = 0                     # the same seed gives the same plan
# catalog_as_of = "2026-09-30" # use the price catalogs dated on or before this day
# overlay = "negotiated.toml"  # negotiated rates (see pricing_data/overlay.py), relative to this file
default_aws_region = "us-east-1"

[offers]
providers = ["aws", "coreweave", "lambda"]
purchase_models = ["reserved_instance", "ec2_instance_savings_plan", "compute_savings_plan", "reserved_contract"]
terms_months = [12, 24, 36]
payment_options = ["no_upfront", "partial_upfront", "all_upfront"]
offering_classes = ["standard", "convertible"]
min_purchase_usd_per_hour = 0.5  # smaller purchases (odd lots) are not recommended; 0 keeps them

[risk]
cvar_beta = 0.9              # tail level for CVaR (the worst 10% of scenarios)
# cvar_limit_usd = 250000    # CVaR of unused commitment spend over the horizon <= this
# cvar_limit_pct = 10        # ... or <= this percent of commitment spend (not both)
# min_utilization = 0.7      # commitment utilisation >= 70% in every scenario of the worst tail
min_utilization_tail = 0.1
# upfront_budget_usd = 500000  # upfront cash per purchase date
# max_share_per_provider = 0.7 # share of the GPU-hours commitments serve, per provider
risk_aversion = 0.0          # objective = E[cost] + risk_aversion * CVaR(cost)
risk_pricing = "conservative" # how the bounds value used commitment dollars where offers of different
                             # prices share dispatch: "conservative" (at the cheapest; never
                             # understates waste, small LP) or "exact" (larger LP)

[spot]
overhead_pct = 0.0           # flat extra GPU-hours on spot, on top of the interruption re-runs:
checkpoint_interval_h = 1.0  # an interruption (catalog rate per instance-month) loses half a
restart_h = 0.25             # checkpoint interval plus the restart
cap_share = 0.5              # availability: at most this share of an interruptible pool on spot;
                             # less where the interruption band is worse (pricing_data/assumptions.toml)
price_spread_pct = 25.0      # spot price spread over scenarios around the catalog's snapshot (assumed)

[finance]
discount_rate_pct = 8.0      # cost of capital, %/year: cash flows discounted monthly (0: undiscounted)
valuation = "whole_term"     # every commitment over its whole term ("horizon": backtest windows only)
tail_step_months = 3         # time resolution after the decision horizon (commitments are valued
tail_blocks = 2              # over their whole term): periods of 3 months in 2 duration-curve blocks
tail_min_volatility_pct = 2.0 # least monthly volatility of the demand tail

[portability]
egress_usd_per_gb = 0.09     # AWS data transfer out, $/GB (an assumption: set yours)
data_gb_per_gpu_hour = { default = 1.0 }   # per workload, e.g. { default = 1.0, training = 0.5 }

[growth]
annual_pct = 0.0             # compound demand growth per year on top of the forecast
# [[growth.steps]]           # a planned launch: +25% and +16 GPUs of A100 demand from February
# at = "2027-02-01"
# pct = 25
# add_gpus = 16
# pools = ["A100-80GB"]      # GPU types or pool names; all pools when empty

[solver]
integer = true               # whole RIs and contract GPUs (MIP); false: LP relaxation, faster
integer_method = "mip"       # or "round": LP relaxation rounded to whole units, then re-solved
solver = "highs"             # or "cbc"
time_limit_s = 60.0
mip_gap = 0.005
time_reduction = "duration_curve"   # or "typical_days", "hourly"
period = "month"
blocks_per_period = 4
savings_curve_points = 5
bound_rounds = 3             # tighten-and-re-solve rounds when the evaluator finds a bound breached
scenario_reduction = "auto"  # "on"/"off": the LP on reduce_scenarios_to scenarios (forward
reduce_scenarios_to = 50     # selection); auto: when S > 50 and S x pools >= 400; billed on all S
decomposition = "auto"       # "scenarios": Benders over scenarios, then rounding; auto: LPs of
                             # 60k+ columns; "off": one LP

[serverless]                 # pools marked scale_to_zero may be served by serverless GPUs
providers = ["modal", "replicate"]
hybrid = true                # a held base with bursts to serverless (false: all or nothing)
min_warm_gpus = 0.0          # GPUs kept warm (billed every hour) when a pool is all serverless
pin_region = false           # true: the catalog's pinned-region price multiplier applies
# cold_start_overhead_pct = 10   # overrides the catalog's assumed figure
gpu_seconds_per_request = {}     # by workload, e.g. { default = 0.5 }: busy time from `requests`

# Pools: which usage may use spot (interruptible), run off AWS (portable) or scale to zero on
# serverless GPUs (scale_to_zero; needs busy_gpu_hours or requests in the usage file). First match
# wins; unmatched usage is fixed (AWS on-demand and commitments only).
# [[pools]]
# match = { workload = "training" }
# interruptible = true
# portable = true
# spot_cap_share = 0.3       # optional: at most 30% of these pools' demand on spot (default:
#                            # from the spot offer's interruption band, at most [spot] cap_share)
# [[pools]]
# match = { workload = "inference", environment = ["dev", "staging"] }
# scale_to_zero = true
"""


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {v!r}")


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _toml_value(k)


def config_to_toml(cfg: PlanningConfig) -> str:
    """The settings in force as a policy file (TOML) that reads back to the same configuration,
    with the egress the run charges per GPU-hour off AWS stated (derived, not a key)."""
    doc = config_to_doc(cfg)
    lines = [f"# Settings in force ({cfg.source}); reads back as the same policy."]
    for n in defaults_in_force(cfg):
        lines.append(f"# default: {n}")
    lines.append(
        f"# egress charged off AWS: {egress_usd_per_gpu_hour(cfg):g} USD per GPU-hour "
        "(egress_usd_per_gb x the largest data_gb_per_gpu_hour of a portable workload)"
    )
    for section, table in doc.items():
        if section == "pools":
            continue
        scalars = {k: v for k, v in table.items() if not _is_table_list(v)}
        lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
        for k, v in table.items():
            if _is_table_list(v):
                for item in v:
                    lines += ["", f"[[{section}.{k}]]"]
                    lines += [f"{kk} = {_toml_value(vv)}" for kk, vv in item.items()]
    for rule in doc.get("pools", []):
        lines += ["", "[[pools]]"] + [f"{k} = {_toml_value(v)}" for k, v in rule.items()]
    return "\n".join(lines) + "\n"


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
