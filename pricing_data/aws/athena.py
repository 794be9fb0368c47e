"""Amazon Athena: run one query over the CUR table and read back its (small) result.

The API family ``athena``: ``GetTableMetadata`` (the table's columns), ``StartQueryExecution``,
``GetQueryExecution`` (polled until the query ends), ``GetQueryResults`` (paginated, 1,000 rows a
page) and, when a query overruns its time limit, ``StopQueryExecution``. Calls go through
:func:`pricing_data.aws.client.call` (backoff on throttling; failures become one
:class:`~pricing_data.aws.errors.AwsApiError` line naming the IAM permission). Athena also needs,
outside this API, ``glue:GetTable``/``glue:GetPartitions`` on the table, ``s3:GetObject`` and
``s3:ListBucket`` on the CUR bucket and ``s3:PutObject``/``s3:GetObject`` on the result location: a
query that fails for one of those is reported with the permission its failure reason points to.

Credentials come only from the boto3 chain (``--athena-profile``/``AWS_PROFILE``, environment, SSO,
instance role); the workgroup's configured result location is used when none is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pricing_data.aws.client import (
    DEFAULT_RETRY,
    RetryPolicy,
    call,
    make_client,
    make_session,
    pages,
)
from pricing_data.aws.errors import AwsApiError, MalformedResponseError, redact

DEFAULT_WORKGROUP = "primary"
DEFAULT_DATA_CATALOG = "AwsDataCatalog"
#: rows per GetQueryResults page (the API's maximum)
PAGE_ROWS = 1000


@dataclass(frozen=True)
class Polling:
    """How :func:`run_query` waits: ``interval_s × 1.5**k`` capped at ``max_interval_s``."""

    interval_s: float = 0.5
    max_interval_s: float = 5.0
    timeout_s: float = 1800.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


DEFAULT_POLLING = Polling()
# What the readers use; tests replace them with a backoff and polling that do not sleep.
RETRY = DEFAULT_RETRY
POLLING = DEFAULT_POLLING


def make_athena_client(profile: str | None, region: str | None) -> Any:
    """An Athena client over the standard credential chain (tests replace this function)."""
    session = make_session(profile, region)
    return make_client(session, "athena", region or session.region_name or "us-east-1")


def table_columns(
    athena: Any,
    database: str,
    table: str,
    *,
    data_catalog: str = DEFAULT_DATA_CATALOG,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> dict[str, str]:
    """Column name → type (e.g. ``map<string,string>``) of ``database.table``, partition keys too."""
    response = call(
        athena,
        "get_table_metadata",
        retry,
        CatalogName=data_catalog,
        DatabaseName=database,
        TableName=table,
    )
    meta = response.get("TableMetadata")
    if not isinstance(meta, Mapping):
        raise MalformedResponseError("athena.GetTableMetadata: no TableMetadata in the response")
    out: dict[str, str] = {}
    for col in [*meta.get("Columns", []), *meta.get("PartitionKeys", [])]:
        if not isinstance(col, Mapping) or "Name" not in col:
            raise MalformedResponseError("athena.GetTableMetadata: a column without a Name")
        out[str(col["Name"])] = str(col.get("Type", "string"))
    return out


def _failure(reason: str, state: str, output_location: str | None) -> AwsApiError:
    """The query's failure, with the permission or flag its reason points to."""
    text = redact(reason)[:300]
    low = reason.lower()
    api = "athena.StartQueryExecution"
    if "output location" in low or "outputlocation" in low:
        return AwsApiError(
            api,
            "athena:StartQueryExecution",
            f"the query {state.lower()}: no result location ({text})",
            "pass --athena-output s3://bucket/prefix/ or set one on the workgroup",
        )
    if "writing" in low or ("access denied" in low and output_location and "output" in low):
        return AwsApiError(
            api,
            "s3:PutObject",
            f"the query {state.lower()}: cannot write results ({text})",
            f"grant s3:PutObject and s3:GetObject on {output_location or 'the result location'}",
        )
    if "glue" in low or "insufficient permissions" in low or "lake formation" in low:
        return AwsApiError(
            api,
            "glue:GetTable",
            f"the query {state.lower()}: cannot read the table definition ({text})",
            "grant glue:GetTable and glue:GetPartitions on the CUR database and table "
            "(and Lake Formation SELECT if it governs them)",
        )
    if "access denied" in low or ("s3" in low and "denied" in low):
        return AwsApiError(
            api,
            "s3:GetObject",
            f"the query {state.lower()}: cannot read the CUR objects ({text})",
            "grant s3:GetObject and s3:ListBucket on the CUR bucket to the profile's role",
        )
    if "does not exist" in low or "not found" in low or "cannot be resolved" in low:
        return AwsApiError(
            api,
            "athena:StartQueryExecution",
            f"the query {state.lower()}: {text}",
            "check --athena-database and the table name (the CUR 2.0 Athena integration "
            "creates them); the columns must be the standard CUR ones",
        )
    return AwsApiError(
        api,
        "athena:StartQueryExecution",
        f"the query {state.lower()}: {text}" if text else f"the query {state.lower()}",
        "check the query in the Athena console (query history) and the workgroup's limits",
    )


@dataclass(frozen=True)
class QueryPlace:
    """Where a query runs: its database (and data catalog), the workgroup, and the S3 folder for
    results (None: the workgroup's own)."""

    database: str
    workgroup: str = DEFAULT_WORKGROUP
    output_location: str | None = None
    data_catalog: str = DEFAULT_DATA_CATALOG


def run_query(
    athena: Any,
    sql: str,
    place: QueryPlace,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    polling: Polling = DEFAULT_POLLING,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Start ``sql`` and wait until it succeeds; returns the query execution id.

    A query that fails or is cancelled raises :class:`AwsApiError` naming the permission its
    reason points to; one still running after ``polling.timeout_s`` is stopped and raises.
    """
    params: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": place.database, "Catalog": place.data_catalog},
        "WorkGroup": place.workgroup,
    }
    if place.output_location:
        params["ResultConfiguration"] = {"OutputLocation": place.output_location}
    started = call(athena, "start_query_execution", retry, **params)
    qid = started.get("QueryExecutionId")
    if not qid:
        raise MalformedResponseError("athena.StartQueryExecution: no QueryExecutionId")
    t0 = polling.clock()
    wait = polling.interval_s
    while True:
        execution = call(athena, "get_query_execution", retry, QueryExecutionId=qid)
        status = execution.get("QueryExecution", {}).get("Status", {})
        state = str(status.get("State", ""))
        if state == "SUCCEEDED":
            stats = execution["QueryExecution"].get("Statistics", {})
            if progress:
                scanned = stats.get("DataScannedInBytes")
                progress(
                    f"athena query {qid} succeeded"
                    + (f", {int(scanned) / 1e9:.2f} GB scanned" if scanned is not None else "")
                )
            return str(qid)
        if state in ("FAILED", "CANCELLED"):
            raise _failure(str(status.get("StateChangeReason", "")), state, place.output_location)
        if state not in ("QUEUED", "RUNNING", ""):
            raise MalformedResponseError(f"athena.GetQueryExecution: unknown state {state!r}")
        if polling.clock() - t0 > polling.timeout_s:
            call(athena, "stop_query_execution", retry, QueryExecutionId=qid)
            raise AwsApiError(
                "athena.GetQueryExecution",
                "athena:GetQueryExecution",
                f"the query ran longer than {polling.timeout_s:.0f} s and was stopped",
                "narrow the time window (--athena-since) or raise the workgroup's capacity",
            )
        if progress:
            progress(f"athena query {qid}: {state.lower() or 'submitted'}")
        polling.sleep(wait)
        wait = min(polling.max_interval_s, wait * 1.5)


def query_rows(
    athena: Any, query_id: str, *, retry: RetryPolicy = DEFAULT_RETRY
) -> tuple[list[str], list[list[str | None]]]:
    """The column names and rows (text, ``None`` for NULL) of a finished query, every page."""
    names: list[str] = []
    rows: list[list[str | None]] = []
    first = True
    for page in pages(
        athena,
        "get_query_results",
        token_in="NextToken",
        token_out="NextToken",
        retry=retry,
        QueryExecutionId=query_id,
        MaxResults=PAGE_ROWS,
    ):
        result = page.get("ResultSet", {})
        if first:
            info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            names = [str(c.get("Name", "")) for c in info]
        page_rows = result.get("Rows", [])
        for i, row in enumerate(page_rows):
            values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
            if first and i == 0 and values == names:  # the header row of a SELECT's first page
                continue
            if len(values) != len(names):
                raise MalformedResponseError(
                    f"athena.GetQueryResults: a row has {len(values)} values for "
                    f"{len(names)} columns"
                )
            rows.append(values)
        first = False
    return names, rows
