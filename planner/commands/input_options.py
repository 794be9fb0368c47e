"""Options about how strictly inputs are checked, shared by every command that reads usage.

``@accept_outliers_option`` adds ``--accept-outliers`` to a command: implausible hours in the usage
file (:mod:`forecasting.validate_usage`) are then accepted with a loud warning instead of refused.
The option is handled here, so the command's own function does not take it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from forecasting.validate_usage import accepting_outliers


def accept_outliers_option(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def run(*args: Any, accept_outliers: bool = False, **kwargs: Any) -> Any:
        with accepting_outliers(accept_outliers):
            return f(*args, **kwargs)

    return click.option(
        "--accept-outliers",
        is_flag=True,
        help="Accept implausible hours in the usage file (warned, not refused).",
    )(run)
