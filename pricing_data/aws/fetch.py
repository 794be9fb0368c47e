"""Compatibility: the names that lived here before the AWS code was grouped by API family.

The client layer (sessions, retries, pagination, errors) is :mod:`pricing_data.aws.client`; each API
family's calls and parsers are in :mod:`~pricing_data.aws.pricing`, :mod:`~pricing_data.aws.ec2`,
:mod:`~pricing_data.aws.savingsplans` and :mod:`~pricing_data.aws.ce`. Import from those; this module
only re-exports the client layer for code written against the old layout.
"""

from __future__ import annotations

from pricing_data.aws.client import (
    DEFAULT_RETRY,
    GLOBAL_REGION,
    PRICING_REGION,
    THROTTLING_CODES,
    ClientFactory,
    RetryPolicy,
    call,
    make_client,
    make_session,
    pages,
    permission_for,
    session_client_factory,
    translate_error,
)

__all__ = [
    "DEFAULT_RETRY",
    "GLOBAL_REGION",
    "PRICING_REGION",
    "THROTTLING_CODES",
    "ClientFactory",
    "RetryPolicy",
    "call",
    "make_client",
    "make_session",
    "pages",
    "permission_for",
    "session_client_factory",
    "translate_error",
]
