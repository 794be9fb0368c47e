"""The policy file: template, example, overrides and error paths (through the CLI too)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.policy import Policy
from planner.policy_file import (
    TEMPLATE,
    apply_overrides,
    config_from_dict,
    egress_usd_per_gpu_hour,
    read_policy_file,
)
from pricing_data.errors import PlannerInputError, UnknownNameError

EXAMPLE = Path(__file__).parents[2] / "examples" / "policy.toml"


def test_template_values_are_the_defaults() -> None:
    cfg = config_from_dict(tomllib.loads(TEMPLATE), "template")
    assert cfg.policy == Policy()
    assert cfg.scenarios == 100 and cfg.seed == 0
    assert cfg.pool_rules == ()


def test_every_policy_field_can_be_set_from_the_file() -> None:
    from dataclasses import fields

    from planner.policy_file import _POLICY_FIELD, SECTIONS

    reachable = set(_POLICY_FIELD.values()) | {k for keys in SECTIONS.values() for k in keys}
    derived = {"egress_usd_per_gpu_hour"}  # from [portability]: egress_usd_per_gb x data size
    missing = [f.name for f in fields(Policy) if f.name not in reachable | derived]
    assert missing == []


def test_example_policy_reads_with_pools_and_growth() -> None:
    cfg = read_policy_file(EXAMPLE)
    assert cfg.policy.cvar_limit_pct == 15
    assert cfg.policy.terms_months == (12, 36)
    assert cfg.policy.spot_overhead_pct == 0 and cfg.policy.spot_checkpoint_interval_h == 1.0
    assert cfg.policy.discount_rate_pct == 8
    assert cfg.growth.annual_pct == 20
    assert [dict(r.match) for r in cfg.pool_rules] == [
        {"workload": "training"},
        {"workload": "fine-tuning"},
        {"workload": "inference", "environment": ["dev", "staging"]},
    ]
    assert cfg.pool_rules[-1].scale_to_zero
    assert cfg.pool_rules[0].portable and not cfg.pool_rules[1].portable
    # training is the only portable workload: 0.09 $/GB x 0.4 GB per GPU-hour
    assert egress_usd_per_gpu_hour(cfg) == pytest.approx(0.036)


def test_overrides_and_shorthands() -> None:
    cfg = read_policy_file(EXAMPLE)
    out = apply_overrides(
        cfg,
        [
            "growth=+40%",
            "exclude=coreweave",
            "risk.cvar_limit_pct=5%",
            "horizon=24mo",
            "solver.integer=false",
        ],
    )
    assert out.growth.annual_pct == 40
    assert out.policy.providers == ("aws", "lambda")
    assert out.policy.cvar_limit_pct == 5
    assert out.policy.horizon_months == 24
    assert out.policy.integer is False
    assert out.pool_rules == cfg.pool_rules
    assert apply_overrides(cfg, ["only=aws"]).policy.providers == ("aws",)
    # risk.cvar_limit: a percentage limits the share of spend, a number the dollars (not both)
    pct = apply_overrides(cfg, ["risk.cvar_limit=5%"]).policy
    assert (pct.cvar_limit_pct, pct.cvar_limit_usd) == (5, None)
    usd = apply_overrides(cfg, ["risk.cvar_limit=250000"]).policy
    assert (usd.cvar_limit_pct, usd.cvar_limit_usd) == (None, 250000)
    assert cfg.policy.providers == ("aws", "coreweave", "lambda")  # the input is unchanged


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"risk": {"cvar_limt_pct": 5}},
            "column 'risk.cvar_limt_pct': unknown policy key in [risk] 'cvar_limt_pct'\nTo fix: did you mean 'cvar_limit_pct'",
        ),
        ({"rsk": {}}, "column 'rsk': unknown policy section 'rsk'\nTo fix: did you mean 'risk'"),
        (
            {"risk": {"cvar_limit_usd": 1000, "cvar_limit_pct": 5}},
            "risk.cvar_limit_usd and risk.cvar_limit_pct are both set",
        ),
        (
            {"offers": {"providers": ["coreweave"], "purchase_models": ["reserved_instance"]}},
            "AWS is excluded and reserved contracts are not allowed",
        ),
        ({"offers": {"providers": []}}, "no provider is allowed"),
        (
            {"risk": {"min_utilization": 1.5}},
            "column 'risk.min_utilization': must be a share in [0, 1] (got 1.5)",
        ),
        ({"spot": {"cap_share": 2}}, "column 'spot.cap_share': must be a share in [0, 1] (got 2)"),
        (
            {"planning": {"scenarios": 0}},
            "column 'planning.scenarios': must be between 1 and 2000 (got 0)",
        ),
        (  # TOML has nan and inf; no policy number may be either (hypothesis found the seed's)
            {"planning": {"seed": float("nan")}},
            "column 'planning.seed': must be a finite number (got nan)",
        ),
        (
            {"portability": {"egress_usd_per_gb": float("inf")}},
            "column 'portability.egress_usd_per_gb': must be a finite number (got inf)",
        ),
        ({"growth": {"steps": [{"date": "2027-01-01"}]}}, "unknown growth step key 'date'"),
        ({"pools": [{"match": {"wokload": "training"}}]}, "unknown pool rule column 'wokload'"),
    ],
)
def test_bad_policies_say_what_and_how_to_fix(doc: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PlannerInputError) as e:
        config_from_dict(doc, "p.toml")
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "risk.cvar_limit=abc",
            "column 'risk.cvar_limit_usd': must be a number or empty (got 'abc')",
        ),
        ("risk.cvar_beta=abc", "column 'risk.cvar_beta': must be a number (got 'abc')"),
        ("offers.terms_months=12", "column 'offers.terms_months': must be a list (got 12)"),
        ("growth=abc", "column 'growth.annual_pct': must be a number (got 'abc')"),
        (
            "planning.horizon_months=2.5",
            "column 'planning.horizon_months': must be a whole number (got 2.5)",
        ),
        ("solver.integer=maybe", "column 'solver.integer': must be true or false (got 'maybe')"),
        ("spot.cap_share=true", "column 'spot.cap_share': must be a number (got True)"),
        ("horizon=1.5mo", "months must be whole (got '1.5mo')"),
        ("horizon=12", "a duration needs a unit (got '12')"),
        ("planning.seed=-1", "column 'planning.seed': must be >= 0 (got -1)"),
    ],
)
def test_overrides_of_the_wrong_type_are_usage_errors(override: str, message: str) -> None:
    with pytest.raises(PlannerInputError) as e:
        apply_overrides(read_policy_file(EXAMPLE), [override])
    assert message in str(e.value)


def test_an_empty_override_unsets_an_optional_bound() -> None:
    cfg = apply_overrides(read_policy_file(EXAMPLE), ["risk.cvar_limit_pct="])
    assert cfg.policy.cvar_limit_pct is None


def test_unknown_override_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'growth'"):
        apply_overrides(read_policy_file(None), ["grwth=5"])
    with pytest.raises(UnknownNameError, match="unknown provider 'corewave'"):
        apply_overrides(read_policy_file(None), ["exclude=corewave"])
    with pytest.raises(PlannerInputError, match="an override is key=value"):
        apply_overrides(read_policy_file(None), ["growth"])


def test_policy_cli_init_show_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "policy.toml"
    r = runner.invoke(cli, ["policy", "init", str(path)])
    assert r.exit_code == 0 and path.read_text() == TEMPLATE
    r = runner.invoke(cli, ["policy", "init", str(path)])
    assert r.exit_code == 2 and "file exists" in r.output and "--force" in r.output
    r = runner.invoke(cli, ["policy", "show", str(path), "--set", "risk.cvar_limit_pct=7"])
    assert r.exit_code == 0 and "\ncvar_limit_pct = 7\n" in r.output
    r = runner.invoke(cli, ["policy", "show", str(path), "-o", "json"])
    assert r.exit_code == 0 and '"cvar_beta": 0.9' in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\ncvar_limt_pct = 5\n")
    r = runner.invoke(cli, ["policy", "show", str(bad)])
    assert r.exit_code == 2
    assert r.output == (
        f"Error: {bad}, column 'risk.cvar_limt_pct': unknown policy key in [risk] 'cvar_limt_pct'\n"
        "To fix: did you mean 'cvar_limit_pct' or 'cvar_limit_usd' or 'cvar_beta'?\n"
    )
    r = runner.invoke(cli, ["policy", "show", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "policy file not found" in r.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[risk\n")
    r = runner.invoke(cli, ["policy", "show", str(broken)])
    assert r.exit_code == 2 and "not valid TOML" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("path", [None, EXAMPLE])
def test_policy_show_prints_toml_that_reads_back_the_same(path: Path | None) -> None:
    """`policy show` is the policy in force as a file: read back, it is the same configuration
    (the example's pools and growth included); the egress charged per GPU-hour is stated."""
    from planner.policy_file import config_from_dict, config_to_toml, egress_usd_per_gpu_hour

    cfg = read_policy_file(path)
    text = config_to_toml(cfg)
    again = config_from_dict(tomllib.loads(text), "shown")
    assert again.to_dict() | {"source": ""} == cfg.to_dict() | {"source": ""}
    assert f"egress charged off AWS: {egress_usd_per_gpu_hour(cfg):g} USD per GPU-hour" in text
    if path is None:  # the defaults of a plan without a policy file include a risk bound
        assert again.policy.cvar_limit_pct == 15 and "# default: risk bound" in text
