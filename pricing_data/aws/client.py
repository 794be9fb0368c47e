"""The AWS client layer: sessions, clients, retries with backoff, pagination and clear errors.

One module per AWS API family holds that family's ``fetch_*`` (calls) and ``parse_*`` (pure) functions
(:mod:`~pricing_data.aws.pricing`, :mod:`~pricing_data.aws.ec2`, :mod:`~pricing_data.aws.savingsplans`,
:mod:`~pricing_data.aws.ce`); they all call AWS through this module.


Every ``fetch_*`` function takes a client made by :func:`make_client` (or any boto3 client, e.g. one
wrapped in ``botocore.stub.Stubber`` in tests) and returns the raw API records; the ``parse_*`` modules
turn them into values. Only read-only ``Describe``/``Get`` operations are called: this module never
buys anything.

Credentials come only from the boto3 chain (``AWS_PROFILE``, ``--profile``, environment, SSO, instance
role). They are never read, printed or logged here; errors are built from error *codes*, and AWS's own
message is only passed on, redacted, for codes this module does not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pricing_data.aws.errors import AwsApiError, redact

# Regions where the AWS Price List API has an endpoint; Savings Plans and Cost Explorer are global
# services answered from us-east-1.
PRICING_REGION = "us-east-1"
GLOBAL_REGION = "us-east-1"

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "LimitExceededException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "Blocked",
    }
)
_BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "UnrecognizedClient",
        "InvalidClientTokenId",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidAccessKeyId",
    }
)
_EXPIRED = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
_REGION = frozenset(
    {"OptInRequired", "InvalidRegion", "UnsupportedOperation", "InvalidEndpointException"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for throttling: ``base_delay_s × 2**attempt`` capped at ``max_delay_s``."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay_s(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2**attempt))


DEFAULT_RETRY = RetryPolicy()


def make_session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session from the standard credential chain (nothing is resolved until a call)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except BotoCoreError as e:  # ProfileNotFound and friends: the message names the profile only
        raise AwsApiError(
            "boto3 session",
            "",
            f"cannot open the AWS profile ({type(e).__name__})",
            "check --profile / AWS_PROFILE against ~/.aws/config",
        ) from None


def make_client(session: Any, service: str, region: str | None) -> Any:
    """A boto3 client whose built-in retries are off: :func:`call` retries with its own backoff."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10)
    try:
        return session.client(service, region_name=region, config=config)
    except BotoCoreError as e:
        raise AwsApiError(
            f"{service} client",
            "",
            f"cannot create a client for region {region!r} ({type(e).__name__})",
            "pass a valid --region (e.g. us-east-1) or set one in the AWS profile",
        ) from None


ClientFactory = Callable[[str, str | None], Any]


def session_client_factory(session: Any) -> ClientFactory:
    """``factory(service, region) -> client`` over one boto3 session, caching one client per pair."""
    cache: dict[tuple[str, str | None], Any] = {}

    def factory(service: str, region: str | None) -> Any:
        key = (service, region)
        if key not in cache:
            cache[key] = make_client(session, service, region)
        return cache[key]

    return factory


def permission_for(client: Any, method: str) -> tuple[str, str]:
    """(API label, IAM permission) for a client method, e.g. ("ec2.DescribeSpotPriceHistory", ...)."""
    operation = client.meta.method_to_api_mapping.get(method, method)
    prefix = client.meta.service_model.signing_name
    return f"{client.meta.service_model.service_name}.{operation}", f"{prefix}:{operation}"


def translate_error(
    exc: BaseException, api: str, permission: str, region: str | None
) -> AwsApiError:
    """One clear, credential-free line for an exception raised by a boto3 call."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f" in {region}" if region and region != "aws-global" else ""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        if code in _DENIED:
            return AwsApiError(
                api,
                permission,
                f"access denied{where} ({code})",
                f"grant the IAM permission {permission} to the profile's user or role",
            )
        if code in _BAD_CREDENTIALS:
            return AwsApiError(
                api,
                permission,
                f"AWS does not recognise the credentials ({code})",
                "check AWS_PROFILE / --profile; the key may be deleted or for another partition",
            )
        if code in _EXPIRED:
            return AwsApiError(
                api,
                permission,
                f"the session token has expired ({code})",
                "refresh the credentials (e.g. `aws sso login --profile NAME`) and retry",
            )
        if code in THROTTLING_CODES:
            return AwsApiError(
                api,
                permission,
                f"still throttled after retries ({code})",
                "retry later or narrow --regions / --instance-types",
            )
        if code in _REGION:
            return AwsApiError(
                api,
                permission,
                f"not available{where} ({code})",
                "enable the region for the account or choose another with --region/--regions",
            )
        if code == "DataUnavailableException":
            return AwsApiError(
                api,
                permission,
                "Cost Explorer has no data for this account yet (DataUnavailableException)",
                "enable Cost Explorer and wait 24 h, or pass a saved response with --recommendation",
            )
        message = redact(str(err.get("Message", "")))[:200]
        return AwsApiError(
            api,
            permission,
            f"AWS error {code}{where}" + (f": {message}" if message else ""),
            f"check the request; the call needs the IAM permission {permission}",
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsApiError(
            api,
            permission,
            "no AWS credentials found in the boto3 credential chain",
            "set AWS_PROFILE or pass --profile (or run on a role with the permission)",
        )
    if isinstance(exc, NoRegionError):
        return AwsApiError(
            api, permission, "no AWS region configured", "pass --region or set it in the profile"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsApiError(
            api,
            permission,
            f"cannot reach the endpoint{where} ({type(exc).__name__})",
            "check the region code (unsupported regions have no endpoint) and the network",
        )
    return AwsApiError(
        api,
        permission,
        f"call failed ({type(exc).__name__})",
        f"check the network and credentials; the call needs {permission}",
    )


def _is_retryable(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) in THROTTLING_CODES
    return isinstance(exc, ConnectTimeoutError | ReadTimeoutError)


def call(
    client: Any, method: str, retry: RetryPolicy = DEFAULT_RETRY, **params: Any
) -> dict[str, Any]:
    """``client.<method>(**params)`` with backoff on throttling; other failures raise AwsApiError."""
    from botocore.exceptions import BotoCoreError, ClientError

    api, permission = permission_for(client, method)
    region = getattr(client.meta, "region_name", None)
    for attempt in range(retry.max_attempts):
        try:
            response: dict[str, Any] = getattr(client, method)(**params)
            return response
        except (ClientError, BotoCoreError) as e:
            if _is_retryable(e) and attempt + 1 < retry.max_attempts:
                retry.sleep(retry.delay_s(attempt))
                continue
            raise translate_error(e, api, permission, region) from None
    raise AssertionError("unreachable")  # pragma: no cover


def pages(
    client: Any,
    method: str,
    *,
    token_in: str,
    token_out: str,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_pages: int = 10_000,
    **params: Any,
) -> Iterator[dict[str, Any]]:
    """Every page of a NextToken-style API, each call retried on throttling."""
    token: str | None = None
    for _ in range(max_pages):
        request = dict(params)
        if token:
            request[token_in] = token
        page = call(client, method, retry, **request)
        yield page
        token = page.get(token_out) or None
        if not token:
            return
    api, permission = permission_for(client, method)
    raise AwsApiError(api, permission, f"more than {max_pages} pages", "narrow the request")


def items(
    client: Any,
    method: str,
    key: str,
    *,
    token: str = "NextToken",
    retry: RetryPolicy = DEFAULT_RETRY,
    **params: Any,
) -> list[Any]:
    """Every element of the list ``key`` over all pages of ``method`` (the same ``token`` name
    in the request and the response, as EC2, Pricing and Savings Plans use)."""
    out: list[Any] = []
    for page in pages(client, method, token_in=token, token_out=token, retry=retry, **params):
        out.extend(page.get(key, []))
    return out


def chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
