"""The one billing reduction SQL: duckdb on the repository's CUR/FOCUS samples, Athena dialect run
in duckdb over the same rows, and tag folding that keeps the aggregate bounded."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.billing import _source_sql, column_types, read_billing_usage
from forecasting.billing_sql import (
    ATHENA,
    DUCKDB,
    OTHER_TAG_VALUE,
    q,
    reduction_sql,
    tags_for_rules,
)
from forecasting.pools import PoolRule
from forecasting.usage import TAG_COLUMNS, read_usage

FIX = Path(__file__).resolve().parents[1] / "data" / "billing" / "gpu-fixtures"
ALL_TAGS = {t: None for t in TAG_COLUMNS}

# Trino functions the Athena dialect uses that duckdb spells differently: enough to run the
# Athena SQL text in duckdb over a table with flat tag columns (no map lambdas).
TRINO_IN_DUCKDB = ("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)",)


def athena_like_table(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``"cur_db"."cur"``: the CSV fixture as Athena's CUR table holds it (timestamps typed,
    amounts double, tags as ``resource_tags_user_*`` columns like the CUR-to-Athena integration)."""
    con.execute("CREATE SCHEMA cur_db")
    con.execute(
        f"""CREATE TABLE cur_db.cur AS SELECT
          line_item_line_item_type,
          CAST(line_item_usage_start_date AS TIMESTAMP) AS line_item_usage_start_date,
          CAST(line_item_usage_end_date AS TIMESTAMP) AS line_item_usage_end_date,
          line_item_usage_type,
          CAST(line_item_usage_amount AS DOUBLE) AS line_item_usage_amount,
          product_instance_type, product_region_code,
          json_extract_string(resource_tags, '$.user_team') AS resource_tags_user_team,
          json_extract_string(resource_tags, '$.user_workload') AS resource_tags_user_workload
        FROM read_csv('{path}', all_varchar=true)"""
    )


def athena_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("DESCRIBE cur_db.cur").fetchall()
    return {r[0]: str(r[1]).lower() for r in rows}


def totals(data: pd.DataFrame, by: list[str]) -> dict[tuple[str, ...], float]:
    g = data.groupby(by, observed=True)["gpus"].sum()
    return {
        tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))): float(v) for k, v in g.items()
    }


@pytest.mark.parametrize("name", ["cur2-gpu.csv", "cur2-gpu.parquet", "cur-legacy-gpu.csv"])
def test_duckdb_reduction_gives_the_fixture_gpu_hours(name: str) -> None:
    # README of the fixtures: H100 384 (savings_plan) + 192 (RI) + 192 (on-demand), A10G 12 spot
    data, _warn = read_billing_usage(
        FIX / name, "cur-legacy" if "legacy" in name else "cur-2.0", tags=ALL_TAGS
    )
    got = totals(data, ["gpu_type", "paid_as"])
    assert got[("H100", "savings_plan")] == pytest.approx(384)
    assert got[("H100", "reserved_instance")] == pytest.approx(192)
    assert got[("H100", "on_demand")] == pytest.approx(192)
    assert got[("A10G", "spot")] == pytest.approx(12)
    teams = totals(data, ["team"])
    assert teams[("llm",)] == pytest.approx(768) and teams[("inference",)] == pytest.approx(12)


def test_athena_sql_run_in_duckdb_gives_the_same_usage_as_the_local_reduction() -> None:
    path = FIX / "cur2-gpu.csv"
    local, _ = read_billing_usage(path, "cur-2.0", tags=ALL_TAGS)
    con = duckdb.connect()
    for stmt in TRINO_IN_DUCKDB:
        con.execute(stmt)
    athena_like_table(con, path)
    sql = reduction_sql(
        "cur", f"{q('cur_db')}.{q('cur')}", athena_columns(con), dialect=ATHENA, tags=ALL_TAGS
    )
    assert "regexp_like(" in sql and "regexp_matches(" not in sql
    agg = con.execute(sql).fetchdf()
    from forecasting.billing import usage_from_reduction

    remote, _ = usage_from_reduction(
        agg, catalog=None, source="athena://cur_db/cur", start_col="line_item_usage_start_date"
    )
    pd.testing.assert_frame_equal(
        remote.reset_index(drop=True), local.reset_index(drop=True), check_exact=False
    )


def test_the_two_dialects_differ_only_in_their_fragments() -> None:
    cols = column_types(FIX / "cur2-gpu.parquet")
    duck = reduction_sql("cur", "SRC", cols, dialect=DUCKDB, tags={"team": ["llm"]})
    athena = reduction_sql("cur", "SRC", cols, dialect=ATHENA, tags={"team": ["llm"]})
    keys = ["team", "user:team", "user_team", "tag:team"]
    swapped = athena.replace("regexp_like(", "regexp_matches(").replace(
        ATHENA.map_value(q("resource_tags"), keys), DUCKDB.map_value(q("resource_tags"), keys)
    )
    assert swapped == duck
    assert "map_filter(\"resource_tags\", (k, v) -> lower(k) IN ('team'" in athena


def test_since_until_keep_lines_starting_in_the_window() -> None:
    data, _ = read_billing_usage(
        FIX / "cur2-gpu.parquet",
        "cur-2.0",
        tags=ALL_TAGS,
        since="2025-03-01T12:00:00",
        until="2025-03-02",
    )
    assert data["timestamp"].min() == pd.Timestamp("2025-03-01T12:00Z")
    assert data["timestamp"].max() == pd.Timestamp("2025-03-01T23:00Z")


def test_athena_sql_prunes_the_billing_period_partition() -> None:
    cols = {**column_types(FIX / "cur2-gpu.parquet"), "billing_period": "string"}
    sql = reduction_sql(
        "cur", "T", cols, dialect=ATHENA, tags={}, since="2025-02-10", until="2025-04-01"
    )
    assert "billing_period >= '2025-02'" in sql and "billing_period <= '2025-04'" in sql


def many_teams_cur(path: Path, n_teams: int, hours: int = 24) -> None:
    """A CUR 2.0 Parquet with one p5 line per hour and team, each team its own tag value."""
    duckdb.sql(
        f"""COPY (SELECT 'Usage' AS line_item_line_item_type,
            strftime(TIMESTAMP '2025-03-01' + to_hours(h), '%Y-%m-%dT%H:%M:%SZ')
              AS line_item_usage_start_date,
            strftime(TIMESTAMP '2025-03-01' + to_hours(h + 1), '%Y-%m-%dT%H:%M:%SZ')
              AS line_item_usage_end_date,
            'USE1-BoxUsage:p5.48xlarge' AS line_item_usage_type, 1.0 AS line_item_usage_amount,
            'p5.48xlarge' AS product_instance_type, 'us-east-1' AS product_region_code,
            MAP {{'user_team': 'team-' || t, 'user_workload': CASE WHEN t % 2 = 0
                 THEN 'training' ELSE 'serving' END}} AS resource_tags
          FROM range({hours}) r(h), range({n_teams}) s(t))
        TO '{path}' (FORMAT parquet)"""
    )


def test_folding_tag_values_bounds_the_aggregate_whatever_the_number_of_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "many.parquet"
    many_teams_cur(path, n_teams=300)
    cols = column_types(path)
    con = duckdb.connect()
    all_rows = con.execute(
        reduction_sql("cur", _source_sql(path), cols, tags={"team": None})
    ).fetchdf()
    assert len(all_rows) == 24 * 300  # one group per hour and team value
    rule = PoolRule(match={"team": ["team-7", "TEAM-8"]}, interruptible=True)
    keep = tags_for_rules([rule], TAG_COLUMNS)
    folded = con.execute(reduction_sql("cur", _source_sql(path), cols, tags=keep)).fetchdf()
    assert len(folded) == 24 * 3  # team-7, team-8 and (other)
    assert set(folded["tag_team"]) == {"team-7", "team-8", OTHER_TAG_VALUE}
    assert folded["amount"].sum() == pytest.approx(all_rows["amount"].sum())
    # the pools built from the folded read are the pools built from the full read
    from forecasting.pools import make_pools

    full = make_pools(read_usage(path), [rule])
    small = make_pools(read_usage(path, tags=keep), [rule])
    assert [p.name for p in full.pools] == [p.name for p in small.pools]
    np.testing.assert_allclose(full.demand_gpus.to_numpy(), small.demand_gpus.to_numpy())


def test_tags_for_rules_keeps_named_values_and_drops_wildcards() -> None:
    rules = [
        PoolRule(match={"workload": "training", "team": "*"}, interruptible=True),
        PoolRule(match={"team": ["a", "b"], "gpu_type": "H100"}),
        PoolRule(match={"workload": ["batch"]}),
    ]
    assert tags_for_rules(rules, TAG_COLUMNS) == {
        "workload": ["batch", "training"],
        "team": ["a", "b"],
    }


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.sampled_from(["x", "X", "y", "z", "", "w"]), min_size=1, max_size=12),
    keep=st.lists(st.sampled_from(["x", "y", "q"]), max_size=3),
)
def test_folding_never_changes_what_a_rule_matches(values: list[str], keep: list[str]) -> None:
    """A row's folded tag matches the rule ``team in keep`` exactly when its raw tag did."""
    con = duckdb.connect()
    df = pd.DataFrame({"v": values})  # noqa: F841  (duckdb reads the local frame)
    from forecasting.billing_sql import _kept

    out = con.execute(f"SELECT {_kept('v', keep)} AS f, v FROM df").fetchdf()
    rule = PoolRule(match={"team": keep}) if keep else None
    if rule is None:
        assert set(out["f"]) <= {"", OTHER_TAG_VALUE}
        return
    raw = rule.matches(out.rename(columns={"v": "team"}))
    fold = rule.matches(out.rename(columns={"f": "team"}).drop(columns="v"))
    assert (raw == fold).all()
    assert ((out["f"] == out["v"]) | (out["f"] == OTHER_TAG_VALUE)).all()


def test_s3_exports_are_read_by_duckdb_parquet_with_a_clear_setup_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    import forecasting.billing as billing
    from planner.cli import cli

    url = "s3://cur-bucket/exports/cur2/data/*.parquet"
    assert billing.is_s3_url(url) and billing.is_remote_source(url)
    assert billing._source_sql(url) == f"read_parquet('{url}', union_by_name=true)"
    assert "PROVIDER credential_chain" in billing.S3_SETUP_SQL[-1]
    # no network in tests: an extension that cannot load stands for a machine without httpfs
    monkeypatch.setattr(billing, "S3_SETUP_SQL", ("LOAD planner_no_such_extension",))
    result = CliRunner().invoke(cli, ["usage", url])
    assert result.exit_code == 2
    assert "cannot set up duckdb's S3 reader" in result.stderr
    assert "INSTALL httpfs; INSTALL aws" in result.stderr and "Traceback" not in result.output


def test_rule_classes_fold_tag_tuples_and_keep_every_pool(tmp_path: Path) -> None:
    path = tmp_path / "many.parquet"
    many_teams_cur(path, n_teams=300)
    rules = [
        PoolRule(match={"workload": "training"}, interruptible=True, portable=True),
        PoolRule(match={"team": ["team-1", "team-3"], "gpu_type": "H100"}, interruptible=True),
    ]
    from forecasting.billing_sql import policy_tags
    from forecasting.pools import make_pools

    tp = policy_tags(rules, TAG_COLUMNS)
    assert tp.rules == ({"workload": ["training"]}, {"team": ["team-1", "team-3"]})
    cols = column_types(path)
    con = duckdb.connect()
    values = con.execute(reduction_sql("cur", _source_sql(path), cols, tags=tp.keep)).fetchdf()
    classes = con.execute(reduction_sql("cur", _source_sql(path), cols, tags=tp)).fetchdf()
    # even teams train, odd teams serve. Per hour, folded values: (training, (other)),
    # (other, team-1), (other, team-3), (other, (other)) = 4 rows; rule classes: rule 1 only,
    # rule 2 only (team-1 and team-3 merge), neither = 3 rows
    assert len(values) == 24 * 4 and len(classes) == 24 * 3
    assert classes["amount"].sum() == pytest.approx(24 * 300)
    full = make_pools(read_usage(path), rules)
    small = make_pools(read_usage(path, tags=tp), rules)
    assert [p.name for p in full.pools] == [p.name for p in small.pools]
    np.testing.assert_allclose(full.demand_gpus.to_numpy(), small.demand_gpus.to_numpy())
