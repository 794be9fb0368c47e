"""Errors from AWS, turned into one line that names the API and the IAM permission it needs."""

from __future__ import annotations

import re

from pricing_data.errors import PlannerError


class AwsApiError(PlannerError):
    """An AWS API call failed (denied, throttled after retries, bad credentials, unsupported region).

    ``str(error)`` is one line: the API, what went wrong and what to do. It never contains
    credentials: AWS's own message is only included for unrecognised error codes, redacted.
    """

    def __init__(self, api: str, permission: str, problem: str, fix: str) -> None:
        self.api = api
        self.permission = permission
        self.problem = problem
        self.fix = fix
        needs = f" (IAM permission {permission})" if permission else ""
        super().__init__(f"{api}{needs}: {problem}. To fix: {fix}")


class MalformedResponseError(PlannerError):
    """An AWS response did not have the shape the parser needs (names what and where)."""


# Access key ids, and long base64-looking runs (secrets, session tokens, signatures).
_SECRET_LIKE = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b|[A-Za-z0-9/+=]{32,}")


def redact(text: str) -> str:
    """``text`` with anything shaped like an access key, secret, token or signature replaced."""
    return _SECRET_LIKE.sub("[redacted]", text)
