"""AWS account commands: ``prices refresh``, ``inventory import`` and ``compare-aws``.

Credentials come only from the boto3 chain (``--profile`` / ``AWS_PROFILE``, environment, SSO,
instance role); nothing here reads, prints or stores them. Only read-only APIs are called: the tool
never buys anything. AWS failures become one line naming the API and the IAM permission (exit 1).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from planner.aws.cost_explorer import (
    LOOKBACK,
    RecommendationQuery,
    fetch_recommendations,
    read_recommendation_files,
)
from planner.commands.input_options import accept_outliers_option
from planner.commands.options import (
    ConfigFlags,
    load_config,
    output_option,
    planning_options,
    progress_options,
)
from planner.commands.progress import Reporter
from planner.report.render import render_frame
from planner.report.terminal import compare_aws_summary
from planner.workflows.compare_aws import compare_with_cost_explorer
from planner.workflows.inputs import load_inputs
from pricing_data.aws.client import (
    DEFAULT_RETRY,
    ClientFactory,
    RetryPolicy,
    make_session,
    session_client_factory,
)
from pricing_data.csv_safe import to_csv_text
from pricing_data.errors import PlannerInputError
from pricing_data.units import parse_hours

# Tests replace these two: a Stubber-backed factory and a backoff that does not sleep.
RETRY: RetryPolicy = DEFAULT_RETRY


def client_factory(profile: str | None, region: str | None) -> tuple[ClientFactory, str]:
    """A client factory over a boto3 session, and the session's region (default us-east-1)."""
    session = make_session(profile, region)
    return session_client_factory(session), session.region_name or region or "us-east-1"


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeatable options that also accept comma-separated lists."""
    return tuple(v.strip() for text in values for v in text.split(",") if v.strip())


def aws_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--region",
        "session_region",
        default=None,
        help="Region of the boto3 session (default: the profile's region, else us-east-1).",
    )(f)
    f = click.option(
        "--profile", default=None, help="AWS profile from ~/.aws/config (default: AWS_PROFILE)."
    )(f)
    return f


def _notes(notes: list[str] | tuple[str, ...], shown: int = 5) -> None:
    if not notes:
        return
    click.echo(f"notes ({len(notes)}):", err=True)
    for n in notes[:shown]:
        click.echo(f"  - {n}", err=True)
    if len(notes) > shown:
        click.echo(f"  ... {len(notes) - shown} more (see the provenance file)", err=True)


# ---------------------------------------------------------------- prices refresh


@click.command("refresh")
@click.option(
    "--provider",
    type=click.Choice(["aws"]),
    required=True,
    help="Only aws has a price API to refresh from.",
)
@click.option(
    "--regions",
    "regions",
    multiple=True,
    help="Regions to refresh (repeatable or comma-separated; default: the session's region).",
)
@click.option(
    "--instance-types",
    "instance_types",
    multiple=True,
    help="Instance types (repeatable or comma-separated; default: every GPU type in the catalog).",
)
@click.option(
    "--spot-days",
    type=int,
    default=30,
    show_default=True,
    help="Days of spot price history to summarise.",
)
@click.option(
    "--skip",
    type=click.Choice(["spot", "savings-plans"]),
    multiple=True,
    help="Leave a price family as it is in the catalog in use (e.g. without its permission).",
)
@aws_options
@progress_options
def refresh(
    provider: str,
    regions: tuple[str, ...],
    instance_types: tuple[str, ...],
    spot_days: int,
    skip: tuple[str, ...],
    profile: str | None,
    session_region: str | None,
    progress: Reporter,
) -> None:
    """Refresh AWS prices from the account's APIs into a new dated catalog.

    On-demand and Reserved Instance prices (pricing:GetProducts), published Savings Plans rates
    (savingsplans:DescribeSavingsPlansOfferingRates; they replace the assumed SP prices), spot
    (ec2:DescribeSpotPriceHistory) and GPU counts (ec2:DescribeInstanceTypes). The new files go to
    PLANNER_CATALOG_DIR and supersede the shipped ones, which are never changed. If any call fails,
    nothing is written and the catalog in use stays.
    """
    from pricing_data.aws.refresh import RefreshRequest, refresh_aws_catalog

    factory, default_region = client_factory(profile, session_region)
    request = RefreshRequest(
        regions=_split(regions) or (default_region,),
        instance_types=_split(instance_types),
        spot_days=spot_days,
        include_spot="spot" not in skip,
        include_savings_plans="savings-plans" not in skip,
    )
    result = refresh_aws_catalog(factory, request, retry=RETRY, progress=progress)
    refreshed = ", ".join(f"{n} {m}" for m, n in result.refreshed_by_model.items())
    click.echo(f"refreshed {provider} prices for {', '.join(request.regions)}: {refreshed}")
    for path in result.files:
        series = path.name.rsplit("-", 3)[0]
        carried = result.carried_over_by_series.get(series, 0)
        click.echo(
            f"wrote {path}: {result.rows_by_series[series]} offers"
            + (f" ({carried} carried over from the catalog in use)" if carried else "")
        )
    if any(m.endswith("savings_plan") for m in result.refreshed_by_model):
        click.echo(
            "Savings Plans rates for the refreshed regions are published (assumed=false); the "
            "upfront/recurring derived split of partial-upfront plans is assumed (assumed=true)."
        )
    written = {p.name for p in result.files}
    kept = [v for v in result.previous_versions if v.rsplit("/", 1)[-1] not in written]
    replaced = [v for v in result.previous_versions if v.rsplit("/", 1)[-1] in written]
    if kept:
        click.echo(f"superseded (kept on disk; --as-of still reaches them): {', '.join(kept)}")
    if replaced:
        click.echo(f"replaced today's earlier refresh: {', '.join(replaced)}")
    _notes(list(result.notes))


# ---------------------------------------------------------------- inventory import


@click.group("inventory")
def inventory() -> None:
    """Existing commitments (the inventory CSV format of planner/inventory.py)."""


@inventory.command("import")
@click.option(
    "--from",
    "source",
    type=click.Choice(["aws", "focus"]),
    required=True,
    help="aws: the account's RIs and Savings Plans; focus: commitment rows of a FOCUS export.",
)
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Inventory CSV to write (default: stdout).",
)
@click.option(
    "--regions",
    multiple=True,
    help="Regions whose RIs to import (repeatable or comma-separated; default: the session's).",
)
@click.option(
    "--all-instance-types",
    is_flag=True,
    help="Keep RIs and EC2 Instance SPs of instance types without GPUs too.",
)
@click.option(
    "--term-months",
    type=click.Choice(["12", "36"]),
    default="12",
    show_default=True,
    help="FOCUS only: the term to assume (FOCUS does not carry it).",
)
@click.option(
    "--payment-option",
    type=click.Choice(["no_upfront", "partial_upfront", "all_upfront"]),
    default="no_upfront",
    show_default=True,
    help="FOCUS only: the payment option to assume.",
)
@aws_options
@progress_options
def import_(
    source: str,
    file: str | None,
    out: str | None,
    regions: tuple[str, ...],
    all_instance_types: bool,
    term_months: str,
    payment_option: str,
    profile: str | None,
    session_region: str | None,
    progress: Reporter,
) -> None:
    """Import the commitments an account already holds into an inventory CSV.

    --from aws reads active Reserved Instances (ec2:DescribeReservedInstances, per region) and
    active or queued Savings Plans (savingsplans:DescribeSavingsPlans). --from focus FILE reads the
    commitment rows of a FOCUS export.
    """
    from planner.aws.inventory import commitments_from_focus, describe, import_from_aws
    from planner.inventory import inventory_frame, read_inventory
    from pricing_data.catalog import load_catalog
    from pricing_data.fileio import atomic_write_text

    if source == "focus":
        if not file:
            raise PlannerInputError(
                "--from focus needs the FOCUS file",
                column="FILE",
                fix="planner inventory import --from focus export.csv",
            )
        result = commitments_from_focus(
            file, term_months=int(term_months), payment_option=payment_option
        )
    else:
        if file:
            raise PlannerInputError(
                "--from aws takes no file",
                column="FILE",
                value=file,
                fix="drop the file name, or use --from focus FILE",
            )
        gpu_skus: set[str] | None = None
        if not all_instance_types:
            gpu_skus = set(load_catalog(providers=["aws"]).instance_gpus())
        factory, default_region = client_factory(profile, session_region)
        result = import_from_aws(
            factory,
            _split(regions) or (default_region,),
            gpu_skus=gpu_skus,
            retry=RETRY,
            progress=progress,
        )
    frame = inventory_frame(result.commitments)
    csv_text = to_csv_text(frame)
    if out:
        atomic_write_text(out, csv_text)
        if result.commitments:
            read_inventory(out)  # the file must read back as a valid inventory
        click.echo(f"wrote {out}: {len(result.commitments)} commitment(s)")
        if result.commitments:
            from planner.report.render import render_frame

            click.echo(render_frame(describe(result.commitments), "table"), nl=False)
    else:
        sys.stdout.write(csv_text)
        click.echo(f"{len(result.commitments)} commitment(s) imported", err=True)
    click.echo(f"from: {', '.join(result.sources)}", err=True)
    _notes(result.notes, shown=10)


# ---------------------------------------------------------------- compare-aws


SP_TYPE_CHOICES = {
    "compute": ("COMPUTE_SP",),
    "ec2-instance": ("EC2_INSTANCE_SP",),
    "both": ("COMPUTE_SP", "EC2_INSTANCE_SP"),
    "none": (),
}


@click.command("compare-aws")
@planning_options
@click.option(
    "--recommendation",
    "recommendations",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Saved Cost Explorer response JSON (repeatable); offline, no AWS call.",
)
@click.option(
    "--lookback",
    default="30d",
    show_default=True,
    help="How far back Cost Explorer looks (7d, 30d or 60d); also the window of recent actual "
    "usage billed.",
)
@click.option("--term", type=click.Choice(["1y", "3y"]), default="1y", show_default=True)
@click.option(
    "--payment-option",
    type=click.Choice(["no_upfront", "partial_upfront", "all_upfront"]),
    default="no_upfront",
    show_default=True,
)
@click.option(
    "--sp-type",
    type=click.Choice(list(SP_TYPE_CHOICES)),
    default="both",
    show_default=True,
    help="Which Savings Plans recommendations to ask Cost Explorer for.",
)
@click.option(
    "--offering-class",
    type=click.Choice(["standard", "convertible"]),
    default="standard",
    show_default=True,
    help="RI recommendation offering class.",
)
@click.option("--no-reservations", is_flag=True, help="Do not ask for an RI recommendation.")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Forecast model candidates (repeatable): snaive24, snaive168, ets, mstl_arima, combo.",
)
@output_option
@aws_options
@progress_options
@accept_outliers_option
def compare_aws(
    usage: str,
    inventory: str | None,
    recommendations: tuple[str, ...],
    lookback: str,
    models: tuple[str, ...],
    fmt: str,
    progress: Reporter,
    **kwargs: Any,
) -> None:
    """Cost Explorer's recommendation next to the planner's, billed on the same scenarios.

    Asks Cost Explorer (ce:GetSavingsPlansPurchaseRecommendation,
    ce:GetReservationPurchaseRecommendation) for its purchase recommendation, or reads saved
    responses with --recommendation; forecasts USAGE, plans as `planner plan` does (the same
    inputs, inventory and catalog), then bills existing commitments alone, plus CE's purchases, and
    plus ours with the evaluator on every forecast scenario and on the last --lookback of actual
    usage. Nothing is bought.
    """
    cfg = load_config(ConfigFlags.pop(kwargs))
    lookback_days = parse_lookback_days(lookback)
    inputs = load_inputs(usage, cfg, inventory, progress=progress)
    if recommendations:
        responses = read_recommendation_files(list(recommendations))
        source = ", ".join(recommendations)
    else:
        responses = _fetch_ce(lookback_days=lookback_days, progress=progress, **kwargs)
        source = "Cost Explorer API (ce:Get*PurchaseRecommendation)"
    result = compare_with_cost_explorer(
        inputs,
        responses,
        ce_source=source,
        lookback_days=lookback_days,
        models=models,
        progress=progress,
    )
    progress.close()
    if fmt != "table":
        click.echo(render_frame(result.comparison.table, fmt), nl=False)
        return
    click.echo(compare_aws_summary(result), nl=False)
    _notes(result.notes, shown=8)


def parse_lookback_days(text: str) -> int:
    """Cost Explorer's lookback in days (7, 30 or 60) from a duration."""
    days = parse_hours(text, column="--lookback") / 24
    if days not in LOOKBACK:
        raise PlannerInputError(
            "Cost Explorer looks back 7, 30 or 60 days",
            column="--lookback",
            value=text,
            fix="write 7d, 30d or 60d",
        )
    return int(days)


def _fetch_ce(
    *,
    lookback_days: int,
    term: str,
    payment_option: str,
    sp_type: str,
    offering_class: str,
    no_reservations: bool,
    profile: str | None,
    session_region: str | None,
    progress: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Cost Explorer's recommendations for the compare-aws options (read-only calls)."""
    factory, _region = client_factory(profile, session_region)
    query = RecommendationQuery(
        term_months=12 if term == "1y" else 36,
        payment_option=payment_option,
        lookback_days=lookback_days,
        sp_types=SP_TYPE_CHOICES[sp_type],
        offering_class=offering_class,
        include_reservations=not no_reservations,
    )
    return fetch_recommendations(factory, query, retry=RETRY, progress=progress)
