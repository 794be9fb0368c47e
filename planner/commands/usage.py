"""``planner usage``: what a usage file holds — pools, span, gaps, outages, totals by tag, how paid."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import pandas as pd

from forecasting.pools import PooledUsage, pool_outages
from forecasting.usage import TAG_COLUMNS, UsageHistory
from planner.commands.input_options import accept_outliers_option
from planner.report.render import FORMATS, render_frame
from planner.workflows.demand import UsageReadOptions, load_usage
from pricing_data.errors import PlannerInputError


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a source option in ``ctx.meta`` for :func:`usage_source` (no command argument)."""
    ctx.meta.setdefault("usage_source", {})[param.name] = value
    return value


#: ``--from athena`` options: (flag, AthenaSource query key, help)
ATHENA_OPTIONS = (
    ("--athena-database", None, "Glue database of the CUR table (else write USAGE as DB.TABLE)."),
    ("--athena-workgroup", "workgroup", "Athena workgroup (default primary)."),
    ("--athena-output", "output", "S3 result location (default: the workgroup's)."),
    ("--athena-region", "region", "Region of the Athena workgroup (default: the profile's)."),
    ("--athena-profile", "profile", "AWS profile (default: the standard credential chain)."),
    ("--athena-since", "since", "Read CUR lines from this date (ISO, UTC)."),
    ("--athena-until", "until", "Read CUR lines before this date (ISO, UTC)."),
)


def usage_source(path: str) -> str:
    """USAGE_FILE, or with ``--from athena`` the ``athena://`` address the options describe."""
    ctx = click.get_current_context(silent=True)
    opts = ctx.meta.get("usage_source", {}) if ctx else {}
    if opts.get("source_kind", "file") != "athena":
        return path
    from forecasting.billing import AthenaSource

    database = opts.get("athena_database")
    table = path
    if not database:
        if "." not in path:
            raise PlannerInputError(
                "no Athena database",
                column="--athena-database",
                value=path,
                fix="write USAGE_FILE as DATABASE.TABLE or pass --athena-database",
            )
        database, table = path.split(".", 1)
    from urllib.parse import urlencode

    query = {}
    for flag, key, _help in ATHENA_OPTIONS:
        value = opts.get(flag[2:].replace("-", "_"))
        if key and value:
            query[key] = value
    url = f"athena://{database}/{table}" + ("?" + urlencode(query, safe="/:") if query else "")
    return AthenaSource.parse(url).url()  # checks names, dates and the result location


def athena_options(f: Any) -> Any:
    """``--from file|athena`` and the ``--athena-*`` options, for every command reading usage.

    They are eager (processed before USAGE whatever the order they are typed in) and kept in
    ``ctx.meta``; :func:`usage_source` (or :func:`resolve_usage_argument` as USAGE's callback)
    turns USAGE into the ``athena://`` address they describe.
    """
    for flag, _key, text in reversed(ATHENA_OPTIONS):
        f = click.option(
            flag, default=None, expose_value=False, is_eager=True, callback=_remember, help=text
        )(f)
    return click.option(
        "--from",
        "source_kind",
        type=click.Choice(["file", "athena"]),
        default="file",
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help="Where usage is read: a file (CSV, Parquet, FOCUS, CUR; s3:// Parquet too) or, "
        "with athena, the CUR 2.0 table USAGE (DATABASE.TABLE) queried in Amazon Athena.",
    )(f)


def resolve_usage_argument(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback for a USAGE argument: the ``athena://`` address under ``--from athena``."""
    return usage_source(value) if isinstance(value, str) else value


def ingestion_options(f: Any) -> Any:
    """Options shared by ``planner usage`` and ``planner forecast``."""
    f = athena_options(f)
    f = click.option(
        "--gpu-alias",
        "gpu_aliases",
        multiple=True,
        help="LABEL=TYPE: read a GPU label as a canonical type or other:<label> (repeatable).",
    )(f)
    f = click.option(
        "--gap-fill",
        type=click.Choice(["interpolate", "zero", "previous_week"]),
        default="interpolate",
        show_default=True,
        help="How hours with no row are filled.",
    )(f)
    f = click.option(
        "--on-duplicate",
        type=click.Choice(["error", "sum", "mean", "last"]),
        default="error",
        show_default=True,
        help="What to do with two rows for the same hour and series.",
    )(f)
    f = click.option(
        "--policy",
        type=click.Path(dir_okay=False),
        default=None,
        help="TOML policy file with [[pools]] rules (match, interruptible, portable).",
    )(f)
    return f


def load_pooled(
    path: str,
    policy: str | None,
    on_duplicate: str,
    gap_fill: str,
    gpu_aliases: Sequence[str],
    *,
    pools_only: bool = False,
) -> tuple[UsageHistory, PooledUsage | None]:
    """Read ``path`` (or the ``--from athena`` table) and pool it by the policy's rules.

    ``pools_only``: keep only the tags (and tag values) the pool rules look at, so a billing
    export's reduction stays small whatever the number of tag values.
    """
    options = UsageReadOptions.from_flags(
        policy=policy,
        on_duplicate=on_duplicate,
        gap_fill=gap_fill,
        gpu_aliases=gpu_aliases,
        pools_only=pools_only,
    )
    return load_usage(usage_source(path), options)


def usage_summary(history: UsageHistory, pooled: PooledUsage | None) -> dict[str, pd.DataFrame]:
    """The tables ``planner usage`` shows: pools, gaps, outages, totals by tag, paid as."""
    tables: dict[str, pd.DataFrame] = {}
    if pooled is not None:
        d = pooled.demand_gpus
        tables["pools"] = pd.DataFrame(
            {
                "pool": [p.name for p in pooled.pools],
                "gpu_type": [p.gpu_type for p in pooled.pools],
                "interruptible": [p.interruptible for p in pooled.pools],
                "portable": [p.portable for p in pooled.pools],
                "gpu_hours": [float(d[p.name].sum()) for p in pooled.pools],
                "mean_gpus": [float(d[p.name].mean()) for p in pooled.pools],
                "peak_gpus": [float(d[p.name].max()) for p in pooled.pools],
                "outage_hours": [int(pooled.outage_mask[p.name].sum()) for p in pooled.pools],
            }
        )
    r = history.report
    tables["gaps"] = r.gaps.astype({"start": "string", "end": "string"}) if len(r.gaps) else r.gaps
    # with pools: the hours each pool's forecast leaves out; without: per GPU type
    outages = pool_outages(pooled) if pooled is not None else r.outages
    tables["outages"] = (
        outages.astype({"start": "string", "end": "string"}) if len(outages) else outages
    )
    rows = []
    data = history.data
    for col in ("provider", "region", *TAG_COLUMNS):
        if col in data.columns and (data[col] != "").any():
            g = data.groupby(data[col].astype(str), observed=True)["gpus"].sum()
            rows += [
                {"tag": col, "value": k or "(none)", "gpu_hours": float(v)} for k, v in g.items()
            ]
    tables["totals_by_tag"] = pd.DataFrame(rows, columns=["tag", "value", "gpu_hours"])
    if history.has_paid_as and not data.empty:
        paid = data.groupby(["gpu_type", "paid_as"], observed=True)["gpus"].sum().reset_index()
        tables["paid_as"] = paid.rename(columns={"gpus": "gpu_hours"}).astype({"gpu_type": str})
    return tables


@click.command("usage")
@click.argument("usage_file", type=click.Path(dir_okay=True))
@ingestion_options
@click.option(
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)
@accept_outliers_option
def usage(
    usage_file: str,
    policy: str | None,
    on_duplicate: str,
    gap_fill: str,
    gpu_aliases: tuple[str, ...],
    fmt: str,
) -> None:
    """Show what USAGE_FILE holds: pools, span, gaps, outages, totals by tag and how it was paid.

    USAGE_FILE is a tidy CSV/Parquet (timestamp, gpu_type or instance_type, gpus, tags), a FOCUS
    export or an AWS CUR (legacy or 2.0), plain or gzipped. ``-o csv`` prints the pools table,
    ``-o json`` every table.
    """
    history, pooled = load_pooled(usage_file, policy, on_duplicate, gap_fill, gpu_aliases)
    tables = usage_summary(history, pooled)
    head = {
        "source": history.source,
        "format": history.source_format,
        "start": str(history.start) if history.start is not None else "",
        "end": str(history.end) if history.end is not None else "",
        "hours": history.span_hours,
        "gap_hours": history.report.gap_hours,
        "outage_hours": (
            int(pooled.outage_mask.to_numpy().sum())
            if pooled is not None
            else history.report.outage_hours
        ),
        "gpu_hours": round(float(history.data["gpus"].sum()), 3) if not history.data.empty else 0.0,
        "catalogs": ", ".join(history.meta.get("catalog_versions", [])) or "(not needed)",
    }
    if fmt == "json":
        out = {
            **head,
            "warnings": list(history.report.warnings),
            **{k: json.loads(render_frame(v, "json")) if len(v) else [] for k, v in tables.items()},
        }
        click.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        click.echo(
            render_frame(tables["pools"] if "pools" in tables else pd.DataFrame(), "csv"), nl=False
        )
        return
    for k, v in head.items():
        click.echo(f"{k}: {v}")
    for w in history.report.warnings:
        click.echo(f"warning: {w}")
    for name, table in tables.items():
        if name in ("gaps", "outages") and table.empty:
            click.echo(f"\n{name}: none")
            continue
        click.echo(f"\n{name}:")
        click.echo(render_frame(table, "table", floatfmt=".1f"), nl=False)
