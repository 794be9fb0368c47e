"""The backtest of a usage file: :func:`backtest_usage` loads the inputs as every planning command
does (:func:`~planner.workflows.inputs.load_inputs`), sets the rolling-origin windows from the
request and runs :func:`planner.backtest.run_backtest` (see :mod:`planner.backtest`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planner.backtest import BacktestResult, BacktestSettings, run_backtest
from planner.backtest.sequential import SequentialResult, SequentialSettings, run_sequential
from planner.backtest.term_lp import parse_term_scale
from planner.optimize.offers import relevant_offers
from planner.policy_file import PlanningConfig
from planner.workflows.inputs import load_inputs
from pricing_data.errors import PlannerInputError
from pricing_data.units import parse_hours

#: the scenarios per origin when the command does not say (the policy's count, at most this)
MAX_DEFAULT_SCENARIOS = 30


@dataclass(frozen=True)
class BacktestRequest:
    """What ``planner backtest`` asks for: ``window`` is a duration (``14d``, ``2w``) or ``rest``
    (one window: all the history after the shortest lookback)."""

    window: str = "14d"
    origins: int = 4
    scenarios: int | None = None
    oracle: bool = False

    @property
    def is_rest(self) -> bool:
        return self.window.strip().lower() == "rest"


@dataclass(frozen=True)
class BacktestRun:
    """The backtest result with the settings it ran under."""

    result: BacktestResult
    settings: BacktestSettings
    usage_file: str
    time_reduction: str


def backtest_usage(
    usage: str | Path,
    config: PlanningConfig,
    request: BacktestRequest,
    *,
    progress: Callable[[str], None] | None = None,
) -> BacktestRun:
    """Backtest the planner and the reference strategies on ``usage`` (module docstring)."""
    window_h = 0 if request.is_rest else parse_hours(request.window, column="--window")
    inputs = load_inputs(usage, config, progress=progress)
    origins = request.origins
    if request.is_rest:
        window_h = inputs.pooled.n_hours - BacktestSettings().min_history()
        origins = 1
        if window_h < 24:
            raise PlannerInputError(
                "too little history for --window rest",
                file=str(usage),
                column="--window",
                value=f"{inputs.pooled.n_hours} hours",
                fix="give at least 8 days of usage, or a shorter --window",
            )
    settings = BacktestSettings(
        window_h=window_h,
        n_origins=origins,
        n_scenarios=request.scenarios
        if request.scenarios is not None
        else min(config.scenarios, MAX_DEFAULT_SCENARIOS),
        seed=config.seed,
        oracle=request.oracle,
    )
    policy = inputs.policy
    try:
        result = run_backtest(
            inputs.pooled,
            inputs.catalog.offers,
            policy,
            settings,
            growth=config.growth,
            progress=progress,
        )
    except PlannerInputError as e:
        if e.file is None and e.column == "window":
            e = PlannerInputError(
                e.what, file=str(usage), column="--window", value=e.value, fix=e.fix
            )
        raise e from None
    return BacktestRun(result, settings, str(usage), policy.time_reduction)


@dataclass(frozen=True)
class SequentialRequest:
    """What ``planner backtest --mode sequential`` asks for."""

    every: str = "7d"
    term_scale: str = "1y=28d,3y=84d"
    scenarios: int | None = None


@dataclass(frozen=True)
class SequentialRun:
    """A sequential backtest's result and what produced it."""

    result: SequentialResult
    settings: SequentialSettings
    usage_file: str
    term_scale: dict[int, int] | None


def sequential_backtest_usage(
    usage: str | Path,
    config: PlanningConfig,
    request: SequentialRequest,
    *,
    progress: Callable[[str], None] | None = None,
) -> SequentialRun:
    """Decide every ``request.every`` over the whole history, the inventory carried from one decision
    to the next, terms mapped by ``request.term_scale`` (:mod:`planner.backtest.sequential`)."""
    every_h = parse_hours(request.every, column="--every")
    scale = parse_term_scale(request.term_scale)
    inputs = load_inputs(usage, config, progress=progress)
    offers = relevant_offers(inputs.catalog.offers, inputs.pooled.pools)
    settings = SequentialSettings(
        every_h=every_h,
        term_scale=scale,
        n_scenarios=request.scenarios
        if request.scenarios is not None
        else min(config.scenarios, MAX_DEFAULT_SCENARIOS),
        seed=config.seed,
    )
    try:
        result = run_sequential(inputs.pooled, offers, inputs.policy, settings, progress=progress)
    except PlannerInputError as e:
        if e.file is None:
            e = PlannerInputError(
                e.what, file=str(usage), column=e.column, value=e.value, fix=e.fix
            )
        raise e from None
    return SequentialRun(result, settings, str(usage), scale)
