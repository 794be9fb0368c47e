"""Pool rules: order, defaults, regions, TOML, gap filling and outage masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting import PoolRule, load_pool_rules, make_pools, read_usage
from forecasting.scenarios import Pool
from pricing_data.errors import PlannerInputError, UnknownNameError


def _write(
    tmp_path: Path,
    rows: list[str],
    header: str = "timestamp,gpu_type,gpus,workload,team,region,provider",
) -> Path:
    p = tmp_path / "u.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def test_first_matching_rule_wins_and_unmatched_is_fixed(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        [
            "2025-01-01T00:00:00Z,H100,8,training,research,us-west-2,aws",
            "2025-01-01T00:00:00Z,H100,4,inference,web,,",
            "2025-01-01T00:00:00Z,H100,2,training,web,US-EAST-04,coreweave",
            "2025-01-01T01:00:00Z,H100,8,training,research,us-west-2,aws",
        ],
    )
    rules = [
        PoolRule(
            match={"workload": "training", "team": "research"}, interruptible=True, portable=True
        ),
        {"match": {"workload": ["training", "batch"]}, "portable": True},
    ]
    pooled = make_pools(read_usage(p), rules)
    names = [pl.name for pl in pooled.pools]
    assert names == sorted(
        [
            "H100/interruptible+portable@us-west-2",
            "H100/fixed@us-east-1",
            "H100/portable@us-east-1",
        ]
    )
    d = pooled.demand_gpus
    assert d["H100/interruptible+portable@us-west-2"].tolist() == [8.0, 8.0]
    assert d["H100/fixed@us-east-1"].tolist() == [4.0, 0.0]
    assert d["H100/portable@us-east-1"].tolist() == [2.0, 0.0]
    assert Pool("H100", True, True, "us-west-2") in pooled.pools


def test_rules_from_toml(tmp_path: Path) -> None:
    t = tmp_path / "policy.toml"
    t.write_text(
        '[[pools]]\nmatch = { workload = "training" }\ninterruptible = true\nportable = true\n'
    )
    (rule,) = load_pool_rules(t)
    assert rule == PoolRule(match={"workload": "training"}, interruptible=True, portable=True)


def test_unknown_rule_column_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'workload'"):
        PoolRule(match={"workloads": "training"})


def test_bad_rule_value_type() -> None:
    with pytest.raises(PlannerInputError, match="'portable' must be true or false"):
        PoolRule.from_dict({"match": {}, "portable": "yes"})


@pytest.mark.parametrize(("rule", "expected"), [("interpolate", 3.0), ("zero", 0.0)])
def test_gap_fill_rules(tmp_path: Path, rule: str, expected: float) -> None:
    p = _write(
        tmp_path,
        ["2025-01-01T00:00:00Z,L4,2,,,,", "2025-01-01T02:00:00Z,L4,4,,,,"],
    )
    pooled = make_pools(read_usage(p), gap_fill=rule)  # type: ignore[arg-type]
    assert pooled.demand_gpus.iloc[:, 0].tolist() == [2.0, expected, 4.0]
    assert pooled.gap_mask.iloc[:, 0].tolist() == [False, True, False]


def test_outage_hours_are_masked_and_imputed() -> None:
    idx = pd.date_range("2025-01-01", periods=24 * 21, freq="h", tz="UTC")
    y = 100 + 10 * np.sin(np.arange(idx.size) * 2 * np.pi / 24)
    y[24 * 10 : 24 * 11] = 0.0
    rows = [f"{t:%Y-%m-%dT%H:%M:%SZ},A10G,{v:.3f}" for t, v in zip(idx, y, strict=True)]
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "u.csv"
        p.write_text("timestamp,gpu_type,gpus\n" + "\n".join(rows) + "\n")
        h = read_usage(p)
    assert h.report.outage_hours == 24
    pooled = make_pools(h)
    m = pooled.outage_mask.iloc[:, 0].to_numpy()
    assert m.sum() == 24 and m[24 * 10 : 24 * 11].all()
    fit = pooled.for_fitting().iloc[:, 0].to_numpy()
    assert np.allclose(fit[24 * 10 : 24 * 11], y[24 * 9 : 24 * 10], atol=3.0)


def test_billing_pools_by_paid_as_rule() -> None:
    fix = Path(__file__).resolve().parent.parent / "data" / "billing" / "gpu-fixtures"
    pooled = make_pools(
        read_usage(fix / "cur2-gpu.csv"), [PoolRule(match={"paid_as": "spot"}, interruptible=True)]
    )
    assert [p.name for p in pooled.pools] == [
        "A10G/interruptible@us-east-1",
        "H100/fixed@us-east-1",
    ]
    assert pooled.paid_as is not None
    assert pooled.paid_as.loc["H100/fixed@us-east-1", "savings_plan"] == 384.0
    # billing: hours without GPU lines are zero usage, not gaps
    assert not pooled.gap_mask.to_numpy().any()


def test_a_drop_at_the_end_is_not_an_outage() -> None:
    from forecasting.usage import outage_mask

    y = np.r_[np.full(200, 100.0), np.zeros(50)]
    mask, _ = outage_mask(y)
    assert not mask.any()
    y2 = np.r_[np.full(200, 100.0), np.zeros(50), np.full(100, 100.0)]
    mask2, _ = outage_mask(y2)
    assert mask2.sum() == 50
