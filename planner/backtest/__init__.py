r"""Backtesting: replay a usage history and compare the planner with the two references that
matter — the hindsight optimum (the limit) and Cost Explorer's replay (what users have today).

Rolling origin (:mod:`~planner.backtest.windows`): at each origin ``o`` every strategy
(:mod:`~planner.backtest.strategies`) decides with the usage before ``o`` only; its firm purchases
start at ``o`` and are billed by the referee :func:`planner.evaluate.evaluate` on the actual usage of
the window ``[o, o + W)``, each commitment charged for each active hour of the window (upfront
amortised), so windows shorter than a term compare.

    regret_w = C_w / C*_w − 1,   C*_w = bill of the hindsight LP's commitments on window w
    (:mod:`~planner.backtest.hindsight`);  mean and worst regret are taken over windows.

Replay rule (:mod:`~planner.backtest.replay`): per AWS commitment type separately, the level that
maximises the saving over the last 7/30/60 days (concave in the level, searched exactly on its
breakpoints), then the single type with the highest saving is bought.

Public API: :func:`run_backtest`, :class:`BacktestSettings`, :class:`BacktestResult`.
"""

from __future__ import annotations

from planner.backtest.run import BacktestResult, BacktestSettings, run_backtest

__all__ = ["BacktestResult", "BacktestSettings", "run_backtest"]
