"""The one SQL that reduces a billing export to hourly GPU usage, for duckdb and Amazon Athena.

A FOCUS or AWS CUR export has one line per resource, hour and charge; GPU planning needs only the
GPU-candidate usage lines, summed per hour. :func:`reduction_sql` writes that reduction once; the
two engines that run it (duckdb on a local or S3 file, Athena over the CUR-to-Athena table) differ
only in the few fragments of :class:`Dialect` (regex match and lambda syntax, how tags held as JSON
text become a map). Everything else — which lines count, how the instance type, the way it was paid
and the region are found, how tags are kept — is the same text for both engines.

Output, one row per distinct (``line_start, line_end, instance_type, paid_as, provider, region,
region_prefix, tag_<name>…``)::

    amount  = Σ usage amount (instance-hours for EC2 lines, ConsumedQuantity for FOCUS)
    n_lines = number of export lines summed

Lines are kept when (CUR) ``line_item_type ∈ {Usage, DiscountedUsage, SavingsPlanCoveredUsage}``
and the usage type names ``BoxUsage``, ``SpotUsage``, ``DedicatedUsage`` or ``HostUsage``, or (FOCUS)
``ChargeCategory = 'Usage'`` in hours; and the instance type is of a GPU family
(:data:`GPU_FAMILY_RE`). Hourly CUR lines are already one per hour, so grouping by the line's start
and end *is* the hourly aggregation; longer lines (daily CUR) are spread over their hours after.

**Bounded size.** The number of output rows is ``hours × instance types × paid-as × regions ×
distinct kept tag tuples``. Whole tag maps would make that unbounded (every distinct map text is a
group); so only the tags named in ``tags`` are extracted (keys matched without case, ``user:`` /
``user_`` / ``tag:`` prefixes allowed), and a tag given a value set keeps those values (compared
without case) and folds every other value into :data:`OTHER_TAG_VALUE` — which is all a pool rule
can tell apart. With a policy's tags and values the output stops growing with the number of tag
values in the export.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

#: AWS-style instance names (``p5.48xlarge``, ``g6e.xlarge``, ``p6-b200.48xlarge``)
INSTANCE_RE = r"([a-z][a-z0-9]*(?:-[a-z0-9]+)?\.(?:[0-9]*x?large|metal|[0-9]+xlarge)(?:-[0-9]+xl)?)"
#: instance families that carry GPUs or ML accelerators
GPU_FAMILY_RE = r"^(p\d|g\d|gr\d|inf\d|trn\d|dl\d|p6-)"
#: a kept tag's value that no pool rule names
OTHER_TAG_VALUE = "(other)"
#: how a tag key may be written in an export, for tag ``t``
TAG_KEY_FORMS = ("{t}", "user:{t}", "user_{t}", "tag:{t}")
#: rules beyond this many are not folded into rule classes (one bit per rule in a BIGINT)
MAX_RULE_CLASSES_BITS = 62
#: tag name -> the values to keep as they are (others fold into OTHER_TAG_VALUE); None keeps all
TagKeep = Mapping[str, Collection[str] | None]
Kind = Literal["focus", "cur", "cur-legacy"]


@dataclass(frozen=True)
class TagPolicy:
    """What a reduction keeps of the tags for a set of pool rules.

    ``keep``: the tags read and, per tag, the values kept (others fold into ``(other)``).
    ``rules``: each rule's tag entries (tag -> values). With them, lines of the same hour,
    instance type, way paid and region whose tags satisfy the same rules are summed together,
    their tags shown as those of one of them (the smallest tuple): every rule then matches the
    summed row exactly when it matched each line, and the row count no longer grows with the
    number of tag combinations either (at most one row per combination of rules satisfied).
    """

    keep: Mapping[str, Collection[str] | None]
    rules: tuple[Mapping[str, Collection[str]], ...] = ()


def q(name: str) -> str:
    """A quoted SQL identifier (duckdb and Athena both use double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def lit(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class Dialect:
    """The fragments that differ between duckdb and Athena (Trino)."""

    name: str
    #: ``regexp_matches`` (duckdb) / ``regexp_like`` (Trino)
    regexp_fn: str

    def matches(self, text_sql: str, pattern: str) -> str:
        return f"{self.regexp_fn}({text_sql}, {lit(pattern)})"

    def json_to_map(self, text_sql: str) -> str:
        """A ``map(varchar, varchar)`` from JSON object text; NULL when it is not one."""
        if self.name == "duckdb":
            return f"TRY_CAST(TRY_CAST({text_sql} AS JSON) AS MAP(VARCHAR, VARCHAR))"
        return f"TRY_CAST(try(json_parse({text_sql})) AS MAP(VARCHAR, VARCHAR))"

    def map_value(self, map_sql: str, keys: Collection[str]) -> str:
        """The value of the first entry whose lower-cased key is one of ``keys`` (or NULL)."""
        inside = ", ".join(lit(k) for k in keys)
        if self.name == "duckdb":
            return f"list_filter(map_entries({map_sql}), lambda e: lower(e.key) IN ({inside}))[1].value"
        return f"element_at(map_values(map_filter({map_sql}, (k, v) -> lower(k) IN ({inside}))), 1)"


DUCKDB = Dialect("duckdb", "regexp_matches")
ATHENA = Dialect("athena", "regexp_like")
DIALECTS = {"duckdb": DUCKDB, "athena": ATHENA}


def text(col: str | None, columns: Collection[str]) -> str:
    """Column ``col`` as text, ``''`` when NULL or absent."""
    if col is None or col not in columns:
        return "''"
    return f"coalesce(CAST({q(col)} AS VARCHAR), '')"


def _is_map(sql_type: str) -> bool:
    return sql_type.strip().lower().startswith("map")


def _kept(value_sql: str, values: Collection[str] | None) -> str:
    """``value_sql`` as is when ``values`` is None, else folded: named values kept, others (other)."""
    if values is None:
        return value_sql
    named = sorted({str(v).lower() for v in values})
    if not named:
        return f"CASE WHEN {value_sql} = '' THEN '' ELSE {lit(OTHER_TAG_VALUE)} END"
    inside = ", ".join(lit(v) for v in named)
    return (
        f"CASE WHEN {value_sql} = '' OR lower({value_sql}) IN ({inside}) THEN {value_sql} "
        f"ELSE {lit(OTHER_TAG_VALUE)} END"
    )


def tag_columns_sql(
    dialect: Dialect,
    columns: Mapping[str, str],
    tags: TagKeep,
    *,
    flat_prefixes: Collection[str],
    map_columns: Collection[str],
) -> list[str]:
    """``<expr> AS "tag_<name>"`` reading every kept tag (folding comes after, :func:`_kept`).

    A tag is read from its own column when the export has one (``<prefix><name>``, any case),
    else from the first map (or JSON text) column among ``map_columns`` that has its key.
    """
    lower_cols = {c.lower(): c for c in columns}
    maps = [c for c in map_columns if c in columns]
    out = []
    for name in tags:
        forms = [f"{p}{name}".lower() for p in flat_prefixes]
        flat = next((lower_cols[f] for f in forms if f in lower_cols), None)
        if flat is not None:
            value = text(flat, columns)
        elif maps:
            keys = [f.format(t=name.lower()) for f in TAG_KEY_FORMS]
            parts = []
            for m in maps:
                as_map = (
                    q(m) if _is_map(columns[m]) else dialect.json_to_map(f"CAST({q(m)} AS VARCHAR)")
                )
                parts.append(dialect.map_value(as_map, keys))
            value = f"coalesce({', '.join(parts)}, '')"
        else:
            value = "''"
        out.append(f"{value} AS {q('tag_' + name)}")
    return out


#: column roles per export kind
_CUR_COLUMNS = {
    "cur": {
        "type": "line_item_line_item_type",
        "start": "line_item_usage_start_date",
        "end": "line_item_usage_end_date",
        "usage_type": "line_item_usage_type",
        "amount": "line_item_usage_amount",
        "instance": "product_instance_type",
        "region": "product_region_code",
    },
    "cur-legacy": {
        "type": "lineItem/LineItemType",
        "start": "lineItem/UsageStartDate",
        "end": "lineItem/UsageEndDate",
        "usage_type": "lineItem/UsageType",
        "amount": "lineItem/UsageAmount",
        "instance": "product/instanceType",
        "region": "product/regionCode",
    },
}
#: columns a CUR must have for the reduction
REQUIRED_CUR_ROLES = ("type", "start", "usage_type", "amount")


def cur_column(kind: Kind, role: str, columns: Collection[str]) -> str:
    """The export's column for ``role`` (start, end, type, ...)."""
    col = _CUR_COLUMNS[kind][role]
    if kind == "cur-legacy" and role == "region" and col not in columns:
        return "product/region"
    return col


def _time_window(start_sql: str, since: str | None, until: str | None) -> str:
    """Lines starting in ``[since, until)`` (ISO dates or times; text comparison of ISO forms)."""
    out = ""
    if since:
        out += f" AND {start_sql} >= {lit(since)}"
    if until:
        out += f" AND {start_sql} < {lit(until)}"
    return out


def reduction_sql(
    kind: Kind,
    source_sql: str,
    columns: Mapping[str, str],
    *,
    dialect: Dialect = DUCKDB,
    tags: TagKeep | TagPolicy,
    since: str | None = None,
    until: str | None = None,
) -> str:
    """The SQL that reduces a FOCUS or CUR export (``source_sql``: a table or table function).

    ``tags``: the tags to keep (tag -> values kept, None for all), or a :class:`TagPolicy`
    that also folds tag tuples into the classes of pool rules they satisfy.

    ``columns`` maps the export's column names to their SQL types (only map-ness is used).
    ``since``/``until`` keep lines starting in ``[since, until)`` (ISO dates, UTC); on an Athena
    CUR 2.0 table the ``billing_period`` partition is pruned as well.
    """
    rule_tags = tags.rules if isinstance(tags, TagPolicy) else None
    keep = tags.keep if isinstance(tags, TagPolicy) else tags
    if kind == "focus":
        return _focus_sql(source_sql, columns, dialect, keep, since, until, rule_tags)
    tags = keep
    c = {role: cur_column(kind, role, columns) for role in _CUR_COLUMNS[kind]}
    ut = text(c["usage_type"], columns)
    line_type = text(c["type"], columns)
    instance = (
        f"coalesce(nullif(lower({text(c['instance'], columns)}), ''), "
        f"lower(coalesce(regexp_extract({ut}, ':(.*)$', 1), '')))"
    )
    paid = (
        f"CASE WHEN {line_type} = 'DiscountedUsage' THEN 'reserved_instance' "
        f"WHEN {line_type} = 'SavingsPlanCoveredUsage' THEN 'savings_plan' "
        f"WHEN {ut} LIKE '%SpotUsage%' THEN 'spot' ELSE 'on_demand' END"
    )
    if kind == "cur-legacy":
        tag_sql = tag_columns_sql(
            dialect,
            columns,
            tags,
            flat_prefixes=("resourceTags/user:", "resourceTags/"),
            map_columns=(),
        )
    else:
        tag_sql = tag_columns_sql(
            dialect,
            columns,
            tags,
            flat_prefixes=("resource_tags_user_",),
            map_columns=("resource_tags",),
        )
    start = text(c["start"], columns)
    window = _time_window(start, since, until)
    if since and dialect is ATHENA and "billing_period" in columns:
        window += f" AND billing_period >= {lit(since[:7])}"
    if until and dialect is ATHENA and "billing_period" in columns:
        window += f" AND billing_period <= {lit(until[:7])}"
    select = [
        f"{start} AS line_start",
        f"{text(c['end'], columns)} AS line_end",
        f"{instance} AS instance_type",
        f"{paid} AS paid_as",
        "'aws' AS provider",
        f"{text(c['region'], columns)} AS region",
        f"coalesce(regexp_extract({ut}, '^([A-Z]+[0-9]*)-', 1), '') AS region_prefix",
        *tag_sql,
        f"TRY_CAST({q(c['amount'])} AS DOUBLE) AS amount",
    ]
    where = (
        f"{line_type} IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') "
        f"AND {dialect.matches(ut, '(BoxUsage|SpotUsage|DedicatedUsage|HostUsage)')}{window}"
    )
    return _grouped(select, source_sql, where, dialect, keep, rule_tags)


def _focus_sql(
    source_sql: str,
    columns: Mapping[str, str],
    dialect: Dialect,
    tags: TagKeep,
    since: str | None,
    until: str | None,
    rule_tags: Sequence[Mapping[str, Collection[str]]] | None = None,
) -> str:
    text_cols = [
        c
        for c in ("x_UsageType", "SkuMeter", "SkuPriceDetails", "ChargeDescription", "ResourceType")
        if c in columns
    ]
    instance = (
        "coalesce("
        + ", ".join(
            f"nullif(coalesce(regexp_extract(lower({text(c, columns)}), {lit(INSTANCE_RE)}, 1), ''), '')"
            for c in text_cols
        )
        + ", '')"
        if text_cols
        else "''"
    )
    usage_type = text("x_UsageType", columns)
    commitment = f"lower({text('CommitmentDiscountType', columns)})"
    paid = (
        f"CASE WHEN {commitment} LIKE '%savings%' THEN 'savings_plan' "
        f"WHEN {commitment} LIKE '%reserv%' THEN 'reserved_instance' "
        f"WHEN lower({text('PricingCategory', columns)}) = 'dynamic' "
        f"OR {usage_type} LIKE '%SpotUsage%' THEN 'spot' ELSE 'on_demand' END"
    )
    unit = f"lower({text('ConsumedUnit', columns)})"
    qty = "ConsumedQuantity" if "ConsumedQuantity" in columns else "PricingQuantity"
    tag_sql = tag_columns_sql(dialect, columns, tags, flat_prefixes=(), map_columns=("Tags",))
    start = text("ChargePeriodStart", columns)
    select = [
        f"{start} AS line_start",
        f"{text('ChargePeriodEnd', columns)} AS line_end",
        f"{instance} AS instance_type",
        f"{paid} AS paid_as",
        f"{text('ProviderName', columns)} AS provider",
        f"{text('RegionId', columns)} AS region",
        "'' AS region_prefix",
        *tag_sql,
        f"TRY_CAST({q(qty)} AS DOUBLE) AS amount",
    ]
    where = (
        f"{text('ChargeCategory', columns)} = 'Usage' "
        f"AND ({unit} LIKE 'hour%' OR {unit} LIKE 'hr%' OR {unit} = 'h')"
        f"{_time_window(start, since, until)}"
    )
    return _grouped(select, source_sql, where, dialect, tags, rule_tags)


def _grouped(
    select: list[str],
    source_sql: str,
    where: str,
    dialect: Dialect,
    tags: TagKeep,
    rule_tags: Sequence[Mapping[str, Collection[str]]] | None = None,
) -> str:
    n_keys = 7 + len(tags)
    keys = [s.rsplit(" AS ", 1)[1] for s in select[:n_keys]]
    folded = [
        f"{_kept(key, tags[key[5:-1]])} AS {key}" if key.startswith('"tag_') else key
        for key in keys
    ]
    body = ",\n             ".join(select)
    head = f"""WITH src AS (
      SELECT {body}
      FROM {source_sql}
      WHERE {where}
    ),
    kept AS (
      SELECT {", ".join(folded)}, amount FROM src
      WHERE {dialect.matches("instance_type", GPU_FAMILY_RE)}
    )"""
    if rule_tags is None or not tags or len(rule_tags) > MAX_RULE_CLASSES_BITS:
        return f"""{head}
    SELECT {", ".join(keys)}, sum(amount) AS amount, count(*) AS n_lines
    FROM kept
    GROUP BY {", ".join(str(i + 1) for i in range(n_keys))}"""
    base, tag_keys = keys[:7], keys[7:]
    bits = " + ".join(
        f"{2**r} * (CASE WHEN {_rule_condition(rule)} THEN 1 ELSE 0 END)"
        for r, rule in enumerate(rule_tags)
    )
    tuple_sql = " || chr(31) || ".join(tag_keys)
    parts = ", ".join(
        f"split_part(tag_tuple, chr(31), {i + 1}) AS {k}" for i, k in enumerate(tag_keys)
    )
    return f"""{head},
    classed AS (
      SELECT {", ".join(base)}, {bits or "0"} AS rule_class, {tuple_sql} AS tag_tuple, amount
      FROM kept
    ),
    grouped AS (
      SELECT {", ".join(base)}, rule_class, min(tag_tuple) AS tag_tuple,
             sum(amount) AS amount, count(*) AS n_lines
      FROM classed
      GROUP BY {", ".join(str(i + 1) for i in range(len(base) + 1))}
    )
    SELECT {", ".join(base)}, {parts}, amount, n_lines
    FROM grouped"""


def _rule_condition(rule: Mapping[str, Collection[str]]) -> str:
    """SQL for "the row's (folded) tags satisfy this rule's tag entries" (TRUE without any)."""
    conds = []
    for tag, values in rule.items():
        inside = ", ".join(lit(str(v).lower()) for v in sorted({str(v) for v in values}))
        conds.append(f"lower({q('tag_' + tag)}) IN ({inside})")
    return " AND ".join(conds) or "TRUE"


def policy_tags(rules: Collection[object], all_tags: Collection[str]) -> TagPolicy:
    """The :class:`TagPolicy` for pool ``rules`` (:class:`forecasting.pools.PoolRule`)."""
    conditions = []
    for rule in rules:
        cond: dict[str, Collection[str]] = {}
        for col, want in getattr(rule, "match", {}).items():
            values = [want] if isinstance(want, str) else [str(v) for v in want]
            if col in all_tags and "*" not in values:
                cond[col] = values
        conditions.append(cond)
    return TagPolicy(keep=tags_for_rules(rules, all_tags), rules=tuple(conditions))


def tags_for_rules(
    rules: Collection[object], all_tags: Collection[str]
) -> dict[str, Collection[str] | None]:
    """The tags and values pool ``rules`` look at: all a reduction must keep for them.

    ``rules`` are :class:`forecasting.pools.PoolRule` (anything with a ``match`` mapping); a tag
    matched only with ``"*"`` is not needed (it matches anything, even an empty tag).
    """
    out: dict[str, Collection[str] | None] = {}
    for rule in rules:
        for col, want in getattr(rule, "match", {}).items():
            if col not in all_tags:
                continue
            values = [want] if isinstance(want, str) else [str(v) for v in want]
            if "*" in values:  # matches anything, even an empty tag: the value is not needed
                continue
            out[col] = sorted({*(out.get(col) or []), *values})
    return out
