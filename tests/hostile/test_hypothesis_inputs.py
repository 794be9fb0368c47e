"""Property: no broken input file makes a reader raise anything but a planner error.

For each input kind (usage as tidy CSV, Parquet, FOCUS, CUR legacy and CUR 2.0; policy; inventory;
overlay; scenarios file; plan.json read back), hypothesis takes a valid file from the repository and
breaks it: cells replaced by hostile values (negative, non-finite and huge numbers, non-ISO dates,
formulas, control characters, empty cells...), columns duplicated, rows cut. The library reader
must either return a value that obeys the input's rules or raise
:class:`~pricing_data.errors.PlannerError` (the CLI's exit code 2 or 1) — never another exception,
which the CLI would print as a traceback.

Examples per kind: ``HOSTILE_EXAMPLES`` (default 200). Library functions only, no CLI runs.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import make_pools, read_usage
from forecasting.validate_usage import MAX_GPUS_PER_ROW
from planner.commands.export import read_plan
from planner.inventory import read_inventory
from planner.optimize.scenarios_file import read_scenarios, write_scenarios
from planner.policy_file import read_policy_file
from pricing_data.catalog import Catalog, load_catalog
from pricing_data.errors import PlannerError
from tests.hostile.conftest import BILLING, EXAMPLES, INVENTORY, hourly_rows

N = int(os.environ.get("HOSTILE_EXAMPLES", "200"))
HOSTILE = settings(
    max_examples=N,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

NASTY = [
    "",
    " ",
    "-1",
    "-0.0",
    "0",
    "1e-320",
    "1e308",
    "1e309",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "NULL",
    "null",
    "None",
    "99999999999999999999999",
    "2,5",
    "1.2.3",
    "true",
    "[]",
    "{}",
    "=1+1",
    "+cmd",
    "@SUM(A1)",
    "-2+3",
    "06/01/2026",
    "2026-13-45",
    "9999-12-31",
    "0001-01-01",
    "1970-01-01T00:00:00Z",
    "2025-01-01T00:30:00Z",
    "2025-01-01T00:00:00+05:30",
    "2262-04-12",
    "\x1b[2J",
    "\x00",
    "\ufeff",
    "🙂",
    "a,b",
    '"',
    "'",
    "\n",
    "\r",
    "\t",
    "x" * 300,
    "other:",
    "other:=x",
    "H100",
    "h100",
    "p5.48xlarge",
    "us-east-1",
    "us-eest-1",
    "aws",
    "azure",
]
values = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=12),
    st.floats().map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


def _reader_ok(call: Callable[[], Any]) -> Any:
    """``call()``'s value, or None when it raised a planner error; anything else fails the test."""
    try:
        return call()
    except PlannerError as e:
        assert str(e).strip(), "a planner error must say something"
        return None


@cache
def catalog() -> Catalog:
    return load_catalog()


@st.composite
def broken_csv(draw: st.DrawFn, text: str) -> bytes:
    """``text`` (a CSV with a header) with cells replaced, maybe a column duplicated or rows cut."""
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for _ in range(draw(st.integers(1, 4))):
        if df.empty:
            break
        r = draw(st.integers(0, len(df) - 1))
        c = draw(st.sampled_from(list(df.columns)))
        df.iloc[r, df.columns.get_loc(c)] = draw(values)
    out = df.to_csv(index=False, lineterminator="\n")
    lines = out.splitlines(keepends=True)
    mutation = draw(st.sampled_from(["none", "dup-column", "cut-rows", "truncate", "drop-column"]))
    if mutation == "dup-column":
        c = draw(st.sampled_from(list(df.columns)))
        out = df.assign(**{"__d": df[c]}).rename(columns={"__d": c}).to_csv(index=False)
    elif mutation == "cut-rows" and len(lines) > 2:
        keep = draw(st.integers(1, len(lines) - 1))
        out = "".join(lines[:keep])
    elif mutation == "truncate":
        out = out[: draw(st.integers(0, len(out)))]
    elif mutation == "drop-column" and len(df.columns) > 1:
        out = df.drop(columns=[draw(st.sampled_from(list(df.columns)))]).to_csv(index=False)
    return out.encode("utf-8", errors="surrogatepass")


def _in_file(data: bytes, suffix: str, call: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / f"input{suffix}"
        f.write_bytes(data)
        return _reader_ok(lambda: call(f))


def _check_history(h: Any) -> None:
    if h is None:
        return
    g = h.data["gpus"].to_numpy(dtype=float)
    assert np.isfinite(g).all() and (g >= 0).all() and (g <= MAX_GPUS_PER_ROW).all()
    if not h.data.empty:
        _reader_ok(lambda: make_pools(h, ()))  # the next step takes what the reader returns


# ---- usage ---------------------------------------------------------------------------------

TIDY = "timestamp,gpu_type,gpus,provider,region,team\n" + "\n".join(
    [r + ",aws,us-east-1,ml" for r in hourly_rows(30, gpus=8.0)]
    + [r + ",coreweave,,infra" for r in hourly_rows(30, gpus=3.0, gpu_type="A100-80GB")]
)


@HOSTILE
@given(broken_csv(TIDY))
def test_tidy_usage(data: bytes) -> None:
    _check_history(_in_file(data, ".csv", lambda f: read_usage(f, catalog=catalog())))


@HOSTILE
@given(broken_csv(TIDY))
def test_tidy_usage_parquet(data: bytes) -> None:
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        buf = io.BytesIO()
        df.to_parquet(buf)
    except Exception:
        return
    _check_history(_in_file(buf.getvalue(), ".parquet", lambda f: read_usage(f, catalog=catalog())))


@pytest.mark.parametrize("fixture", ["focus-1.2-gpu.csv", "cur2-gpu.csv", "cur-legacy-gpu.csv"])
def test_billing_exports(fixture: str) -> None:
    text = (BILLING / fixture).read_text()

    @settings(
        max_examples=max(N // 2, 10),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(broken_csv(text))
    def one(data: bytes) -> None:
        _check_history(_in_file(data, ".csv", lambda f: read_usage(f, catalog=catalog())))

    one()


# ---- policy ----------------------------------------------------------------------------------

POLICY = tomllib.loads((EXAMPLES / "policy.toml").read_text())


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


toml_values = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
    st.booleans(),
    st.sampled_from(NASTY),
    st.lists(st.one_of(st.integers(-100, 100), st.sampled_from(NASTY)), max_size=3),
)


@HOSTILE
@given(
    st.lists(
        st.tuples(
            st.sampled_from([s for s in POLICY if isinstance(POLICY[s], dict)]),
            st.one_of(
                st.sampled_from(["horizon_months", "annual_pct", "cvar_limit_pct", "x"]),
                st.text(min_size=1, max_size=8),
            ),
            toml_values,
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_policy(edits: list[tuple[str, str, Any]], bom: bool) -> None:
    doc: dict[str, dict[str, Any]] = {
        s: dict(v) for s, v in POLICY.items() if isinstance(v, dict) and s != "portability"
    }
    for section, key, value in edits:
        pool = list(doc[section]) if doc.get(section) else [key]
        doc.setdefault(section, {})[key if key in pool else pool[hash(key) % len(pool)]] = value
    lines = []
    for section, table in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    text = ("\ufeff" if bom else "") + "\n".join(lines) + "\n"
    cfg = _in_file(text.encode("utf-8", errors="surrogatepass"), ".toml", read_policy_file)
    if cfg is not None:
        assert 1 <= cfg.policy.horizon_months <= 120
        assert cfg.growth.annual_pct > -100


# ---- inventory, overlay ------------------------------------------------------------------------


@HOSTILE
@given(broken_csv(INVENTORY.read_text()))
def test_inventory(data: bytes) -> None:
    got = _in_file(data, ".csv", read_inventory)
    for c in got or []:
        assert c.end > c.start and c.term_months > 0
        assert abs((c.end - (c.start + pd.DateOffset(months=c.term_months))).days) <= 7


OVERLAY = (
    "provider,region,sku,purchase_model,term_months,offering_class,payment_option,"
    "usd_per_gpu_hour,gpu_type,gpus_per_unit\n"
    "coreweave,north-america,HGX H100,reserved_contract,12,,no_upfront,3.1,,\n"
    "aws,*,p5.48xlarge,compute_savings_plan,36,,no_upfront,2.2,,\n"
    "lambda,global,X1 new,reserved_contract,12,,,2.0,H100,8\n"
)


@HOSTILE
@given(broken_csv(OVERLAY))
def test_overlay(data: bytes) -> None:
    from pricing_data.overlay import apply_overlay

    got = _in_file(data, ".csv", lambda f: apply_overlay(catalog().offers, f))
    if got is not None:
        over = got[got["overlay"].astype(bool)]
        assert (over["usd_per_gpu_hour"].astype(float) > 0).all()


# ---- scenarios file, plan.json -----------------------------------------------------------------


arrays = st.one_of(
    st.sampled_from(["float", "negative", "nan", "object", "strings", "empty", "huge", "1d"]),
)


@HOSTILE
@given(
    st.dictionaries(
        st.sampled_from(
            ["start", "gpu_type", "aws_region", "demand_gpus", "probabilities", "seed"]
        ),
        st.one_of(arrays, values),
        max_size=3,
    )
)
def test_scenarios_file(edits: dict[str, Any]) -> None:
    from forecasting.scenarios import DemandScenarios, Pool

    sc = DemandScenarios(
        pd.Timestamp("2026-01-01", tz="UTC"),
        (Pool("H100", False, False, "us-east-1"),),
        np.full((2, 24, 1), 4.0),
        np.array([0.5, 0.5]),
        seed=1,
    )
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "s.npz"
        write_scenarios(f, sc)
        with np.load(f) as z:
            arrs = {k: z[k] for k in z.files}
        for key, how in edits.items():
            arrs[key] = {
                "float": np.full((2, 24, 1), 1.5),
                "negative": np.full((2, 24, 1), -1.0),
                "nan": np.full((2, 24, 1), np.nan),
                "object": np.array([{"a": 1}, None], dtype=object),
                "strings": np.array(["x", "y"]),
                "empty": np.array([]),
                "huge": np.full((2, 24, 1), 1e300),
                "1d": np.arange(5.0),
            }.get(how, np.array(how))
        np.savez(f, **arrs, allow_pickle=True)
        _reader_ok(lambda: read_scenarios(f))


@cache
def _plan_doc() -> dict[str, Any]:
    from planner.policy_file import apply_overrides
    from planner.workflows.quarterly import quarterly_plan

    lines = (EXAMPLES / "usage.csv").read_text().splitlines()
    with tempfile.TemporaryDirectory() as d:
        u = Path(d) / "u.csv"
        u.write_text("\n".join(lines[:6000]) + "\n")
        overrides = ["planning.scenarios=2", "planning.seed=0", "horizon=1mo"]
        cfg = apply_overrides(read_policy_file(None), overrides)
        run = quarterly_plan(u, config=cfg)
    doc = json.loads(run.plan.to_json())
    assert doc["purchases"], "the plan buys something"
    return doc


@settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "provider",
                    "purchase_model",
                    "quantity",
                    "hourly_commitment_usd",
                    "term_months",
                    "start",
                    "end",
                    "payment_option",
                    "commitment_id",
                    "offering_class",
                ]
            ),
            st.one_of(values, st.floats(), st.integers(), st.none(), st.booleans()),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_plan_json_read_back(edits: list[tuple[str, Any]]) -> None:
    doc = json.loads(json.dumps(_plan_doc()))
    for key, value in edits:
        doc["purchases"][0]["commitment"][key] = value
    text = json.dumps(doc, allow_nan=True)
    plan = _in_file(text.encode(), ".json", read_plan)
    if plan is not None:
        from pricing_data.csv_safe import to_csv_text

        to_csv_text(plan.purchases_frame())  # the export of what was accepted works
