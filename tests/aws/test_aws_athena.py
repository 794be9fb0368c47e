"""Athena through botocore's Stubber: the CUR reduction runs "in Athena" (answered with the rows
duckdb computes from the same SQL), polling, pagination, and errors naming the IAM permission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from aws_fakes import FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN, StubbedAws
from click.testing import CliRunner

from forecasting.billing import AthenaSource, read_billing_usage
from forecasting.billing_sql import ATHENA, q, reduction_sql
from forecasting.usage import TAG_COLUMNS, read_usage
from planner.cli import cli
from pricing_data.aws import athena
from pricing_data.aws.athena import Polling, QueryPlace, query_rows, run_query, table_columns
from pricing_data.aws.client import RetryPolicy
from pricing_data.aws.errors import AwsApiError
from pricing_data.errors import PlannerInputError

FIX = Path(__file__).resolve().parents[1] / "data" / "billing" / "gpu-fixtures"
QID = "11111111-2222-3333-4444-555555555555"
SECRETS = (FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN)


@pytest.fixture
def no_wait(monkeypatch: pytest.MonkeyPatch, retry: RetryPolicy) -> list[float]:
    """Polling and backoff that record their waits instead of sleeping."""
    waits: list[float] = []
    clock = iter(range(0, 10_000, 1))
    polling = Polling(interval_s=0.5, max_interval_s=2.0, timeout_s=100, sleep=waits.append,
                      clock=lambda: float(next(clock)))  # fmt: skip
    monkeypatch.setattr(athena, "POLLING", polling)
    monkeypatch.setattr(athena, "RETRY", retry)
    return waits


def cur_table() -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The CUR 2.0 fixture as Athena's table holds it, in duckdb, and its column types."""
    con = duckdb.connect()
    con.execute("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)")
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
        FROM read_csv('{FIX / "cur2-gpu.csv"}', all_varchar=true)"""
    )
    types = {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DOUBLE": "double"}
    cols = {r[0]: types[str(r[1])] for r in con.execute("DESCRIBE cur_db.cur").fetchall()}
    return con, cols


def metadata(cols: dict[str, str]) -> dict[str, Any]:
    return {
        "TableMetadata": {
            "Name": "cur",
            "Columns": [{"Name": k, "Type": v} for k, v in cols.items()],
            "PartitionKeys": [{"Name": "billing_period", "Type": "string"}],
        }
    }


def result_pages(names: list[str], rows: list[list[Any]], size: int) -> list[dict[str, Any]]:
    """GetQueryResults pages of ``size`` rows, the header row first as Athena sends it."""
    cells = [[{"VarCharValue": n} for n in names]] + [
        [{} if v is None else {"VarCharValue": str(v)} for v in r] for r in rows
    ]
    info = [{"Name": n, "Type": "varchar"} for n in names]
    out = []
    for i in range(0, len(cells), size):
        page: dict[str, Any] = {
            "ResultSet": {"Rows": [{"Data": c} for c in cells[i : i + size]],
                          "ResultSetMetadata": {"ColumnInfo": info}},
        }  # fmt: skip
        if i + size < len(cells):
            page["NextToken"] = f"token-{i + size}"
        out.append(page)
    return out


def stub_athena_run(aws: StubbedAws, *, page_rows: int = 40, states: tuple[str, ...] = ("QUEUED", "RUNNING")) -> str:  # fmt: skip
    """Stub a full read of ``athena://cur_db/cur``; returns the SQL Athena is expected to get."""
    con, cols = cur_table()
    sql = reduction_sql(
        "cur",
        f"{q('cur_db')}.{q('cur')}",
        {**cols, "billing_period": "string"},
        dialect=ATHENA,
        tags={t: None for t in TAG_COLUMNS},
    )
    agg = con.execute(sql).fetchdf()
    stub = aws.stub("athena")
    stub.add_response(
        "get_table_metadata",
        metadata(cols),
        {"CatalogName": "AwsDataCatalog", "DatabaseName": "cur_db", "TableName": "cur"},
    )
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": QID},
        {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": "cur_db", "Catalog": "AwsDataCatalog"},
            "WorkGroup": "finops",
            "ResultConfiguration": {"OutputLocation": "s3://results-bucket/planner/"},
        },
    )
    for state in (*states, "SUCCEEDED"):
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": QID, "Status": {"State": state},
                                "Statistics": {"DataScannedInBytes": 123456789}}},
            {"QueryExecutionId": QID},
        )  # fmt: skip
    pages = result_pages(list(agg.columns), agg.astype(object).values.tolist(), page_rows)
    for i, page in enumerate(pages):
        params: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
        if i:
            params["NextToken"] = f"token-{i * page_rows}"
        stub.add_response("get_query_results", page, params)
    return sql


URL = "athena://cur_db/cur?workgroup=finops&output=s3://results-bucket/planner/"


def test_read_usage_from_athena_equals_the_local_file(
    aws: StubbedAws, no_wait: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_athena_run(aws, page_rows=40)
    monkeypatch.setattr(athena, "make_athena_client", lambda profile, region: aws.client("athena"))
    remote = read_usage(URL)
    aws.assert_done()
    local = read_usage(FIX / "cur2-gpu.csv")
    assert remote.source_format == "cur-2.0"
    pd.testing.assert_frame_equal(remote.data, local.data, check_exact=False)
    assert no_wait == [0.5, 0.75]  # polled twice (QUEUED, RUNNING) with a growing wait


def test_query_rows_reads_every_page_and_drops_only_the_header(aws: StubbedAws) -> None:
    stub = aws.stub("athena")
    rows = [["a", "1"], ["b", None], ["c", "3"]]
    for i, page in enumerate(result_pages(["name", "n"], rows, 2)):
        params: dict[str, Any] = {"QueryExecutionId": QID, "MaxResults": 1000}
        if i:
            params["NextToken"] = f"token-{2 * i}"
        stub.add_response("get_query_results", page, params)
    names, got = query_rows(aws.client("athena"), QID)
    assert names == ["name", "n"] and got == rows


def test_table_columns_include_partition_keys(aws: StubbedAws) -> None:
    aws.stub("athena").add_response(
        "get_table_metadata",
        metadata({"a": "string"}),
        {"CatalogName": "AwsDataCatalog", "DatabaseName": "db", "TableName": "t"},
    )
    assert table_columns(aws.client("athena"), "db", "t") == {
        "a": "string",
        "billing_period": "string",
    }


@pytest.mark.parametrize(
    ("reason", "permission", "fix_words"),
    [
        ("Access denied when writing output to url: s3://results-bucket/planner/x.csv",
         "s3:PutObject", "s3://results-bucket/planner/"),
        ("Insufficient permissions to execute the query. User is not authorized to perform: "
         "glue:GetTable", "glue:GetTable", "glue:GetPartitions"),
        ("Access Denied (Service: Amazon S3; Status Code: 403)", "s3:GetObject", "CUR bucket"),
        ("TABLE_NOT_FOUND: line 1:8: Table 'awsdatacatalog.cur_db.cur' does not exist",
         "athena:StartQueryExecution", "--athena-database"),
    ],
)  # fmt: skip
def test_a_failed_query_names_the_permission_its_reason_points_to(
    aws: StubbedAws, no_wait: list[float], reason: str, permission: str, fix_words: str
) -> None:
    stub = aws.stub("athena")
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QID,
                            "Status": {"State": "FAILED", "StateChangeReason": reason}}},
        {"QueryExecutionId": QID},
    )  # fmt: skip
    with pytest.raises(AwsApiError) as err:
        place = QueryPlace("cur_db", output_location="s3://results-bucket/planner/")
        run_query(aws.client("athena"), "SELECT 1", place, polling=athena.POLLING)  # fmt: skip
    assert err.value.permission == permission
    assert fix_words in str(err.value) and "To fix:" in str(err.value)


def test_a_denied_start_names_athena_start_query_execution(aws: StubbedAws, retry: RetryPolicy) -> None:  # fmt: skip
    aws.stub("athena").add_client_error(
        "start_query_execution", "AccessDeniedException", "User: arn:aws:iam::1:user/x is not authorized"
    )  # fmt: skip
    with pytest.raises(AwsApiError) as err:
        run_query(aws.client("athena"), "SELECT 1", QueryPlace("d"), retry=retry)
    assert err.value.permission == "athena:StartQueryExecution"
    assert "access denied" in str(err.value)


def test_throttled_polling_is_retried_with_backoff(
    aws: StubbedAws, retry: RetryPolicy, sleeps: list[float], no_wait: list[float]
) -> None:
    stub = aws.stub("athena")
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    stub.add_client_error("get_query_execution", "ThrottlingException", "Rate exceeded")
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"QueryExecutionId": QID, "Status": {"State": "SUCCEEDED"}}},
        {"QueryExecutionId": QID},
    )
    assert run_query(aws.client("athena"), "SELECT 1", QueryPlace("d"), retry=retry,
                     polling=athena.POLLING) == QID  # fmt: skip
    assert sleeps == [0.5]  # one backoff for the throttle, no polling wait


def test_a_query_past_its_time_limit_is_stopped(aws: StubbedAws, no_wait: list[float]) -> None:
    stub = aws.stub("athena")
    stub.add_response("start_query_execution", {"QueryExecutionId": QID}, None)
    running = {"QueryExecution": {"QueryExecutionId": QID, "Status": {"State": "RUNNING"}}}
    slow = Polling(interval_s=1, timeout_s=2.5, sleep=no_wait.append,
                   clock=iter([0.0, 1.0, 2.0, 3.0, 4.0]).__next__)  # fmt: skip
    for _ in range(3):
        stub.add_response("get_query_execution", running, {"QueryExecutionId": QID})
    stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
    with pytest.raises(AwsApiError, match="longer than 2 s and was stopped"):
        run_query(aws.client("athena"), "SELECT 1", QueryPlace("d"), polling=slow)
    aws.assert_done()


def test_athena_address_parsing_and_errors() -> None:
    s = AthenaSource.parse(
        "athena://cur_db/cur?workgroup=w&output=s3://b/p/&since=2025-01-05&region=eu-west-1"
    )
    assert (s.database, s.table, s.workgroup, s.output_location, s.since, s.region) == (
        "cur_db", "cur", "w", "s3://b/p/", "2025-01-05", "eu-west-1",
    )  # fmt: skip
    assert AthenaSource.parse(s.url()) == s
    for bad, words in [
        ("athena://cur_db", "not an Athena table address"),
        ("athena://db/t?colour=red", "unknown key 'colour'"),
        ("athena://db/t?since=yesterday-ish", "'since' is not a date"),
        ("athena://db/t?output=/tmp/x", "must be an S3 URL"),
    ]:
        with pytest.raises(PlannerInputError, match=words):
            AthenaSource.parse(bad)


def test_read_billing_usage_dispatches_athena_addresses(
    aws: StubbedAws, no_wait: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_athena_run(aws, page_rows=1000, states=())
    monkeypatch.setattr(athena, "make_athena_client", lambda profile, region: aws.client("athena"))
    data, _ = read_billing_usage(URL, "cur-2.0")
    assert data.groupby("gpu_type")["gpus"].sum().to_dict() == pytest.approx(
        {"H100": 768.0, "A10G": 12.0}
    )


def cli_run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    for secret in SECRETS:
        assert secret not in text
    return result


def test_planner_usage_from_athena(
    aws: StubbedAws, no_wait: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub_athena_run(aws)
    monkeypatch.setattr(athena, "make_athena_client", lambda profile, region: aws.client("athena"))
    result = cli_run("usage", "--from", "athena", "cur_db.cur", "--athena-workgroup", "finops",
                     "--athena-output", "s3://results-bucket/planner/", "-o", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    out = json.loads(result.stdout)
    assert out["format"] == "cur-2.0" and out["gpu_hours"] == pytest.approx(780.0)
    assert out["source"].startswith("athena://cur_db/cur?workgroup=finops")


def test_planner_usage_from_athena_errors(
    aws: StubbedAws, no_wait: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(athena, "make_athena_client", lambda profile, region: aws.client("athena"))
    aws.stub("athena").add_client_error("get_table_metadata", "AccessDeniedException", "no")
    denied = cli_run("usage", "--from", "athena", "cur_db.cur")
    assert denied.exit_code == 1
    assert "athena.GetTableMetadata (IAM permission athena:GetTableMetadata)" in denied.stderr
    assert "Traceback" not in denied.output
    no_db = cli_run("usage", "--from", "athena", "cur")
    assert no_db.exit_code == 2 and "--athena-database" in no_db.stderr
    bad_date = cli_run("usage", "--from", "athena", "db.cur", "--athena-since", "soon")
    assert bad_date.exit_code == 2 and "'since' is not a date" in bad_date.stderr


class _Captured(Exception):
    pass


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("plan", "planner.commands.quarterly.quarterly_plan"),
        ("backtest", "planner.commands.backtest.backtest_usage"),
    ],
)
def test_plan_and_backtest_take_from_athena_in_any_option_order(
    command: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """USAGE becomes the athena:// address whether --from comes before or after it."""
    seen: list[str] = []

    def capture(usage: str, *args: Any, **kwargs: Any) -> None:
        seen.append(usage)
        raise _Captured

    monkeypatch.setattr(target, capture)
    flags = ["--athena-workgroup", "finops", "--athena-since", "2025-01-01"]
    for args in (
        [command, "--from", "athena", "cur_db.cur", *flags],
        [command, "cur_db.cur", *flags, "--from", "athena"],
    ):
        result = CliRunner().invoke(cli, args)
        assert isinstance(result.exception, _Captured), result.output
    assert seen == ["athena://cur_db/cur?workgroup=finops&since=2025-01-01"] * 2
    plain = CliRunner().invoke(cli, [command, "usage.csv"])
    assert isinstance(plain.exception, _Captured) and seen[-1] == "usage.csv"
