"""The ``planner`` command line: a thin layer that parses options, calls one library function and
renders its result. Commands live in ``planner/commands/<area>.py`` and are registered here.

Exit codes: 0 success, 2 usage errors (bad flags, bad input files, unknown names), 1 other failures
(infeasible plan, solver failure, corrupt shipped data). A user's mistake never prints a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from pricing_data.errors import PlannerError, PlannerInputError

_signal_received = False
"""Set by :func:`_on_signal`. A library can swallow the KeyboardInterrupt a signal raises and report
something else (pandas' C reader turns it into "Calling read(nbytes) on source failed"), so whatever
error ends a run after a signal is reported as the interruption it is."""


def _on_signal(signum: int, _frame: object) -> None:
    """SIGINT and SIGTERM end a run like Ctrl-C: one message, exit code 130."""
    global _signal_received
    _signal_received = True
    raise KeyboardInterrupt


def _exit_interrupted(ctx: click.Context) -> None:
    # outputs are written all or nothing, at the end, so an interrupted run leaves none behind
    click.echo("Error: interrupted; no output file was half-written", err=True)
    ctx.exit(130)


class PlannerGroup(click.Group):
    """A click group that turns the planner's own errors into one clear message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _exit_interrupted(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as e:
            if _signal_received:  # an error a library raised in place of the interruption
                _exit_interrupted(ctx)
            _report(ctx, e)


def _report(ctx: click.Context, e: Exception) -> None:
    """Exit with one message for the planner's own errors; re-raise anything else."""
    if isinstance(e, PlannerInputError):
        click.echo(f"Error: {e}", err=True)
        ctx.exit(2)
    if isinstance(e, PlannerError):
        click.echo(f"Error: {e}", err=True)
        ctx.exit(1)
    if isinstance(e, MemoryError):
        click.echo(
            "Error: not enough memory for this run; nothing was written\n"
            "To fix: use fewer scenarios, a shorter horizon or fewer pools",
            err=True,
        )
        ctx.exit(1)
    if isinstance(e, OSError) and e.filename is not None:
        # a file the user named cannot be read or written: a usage error, not a traceback
        click.echo(f"Error: {e.filename}: {e.strerror or e}", err=True)
        ctx.exit(2)
    raise e


@click.group(cls=PlannerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gpu-commitment-planner")
def cli() -> None:
    """Plan cloud GPU commitments (AWS RIs and Savings Plans, CoreWeave and Lambda contracts, spot and
    on-demand) jointly, under uncertainty."""


def _register() -> None:
    from planner.commands import prices

    cli.add_command(prices.prices)

    from planner.commands import policy

    cli.add_command(policy.policy)

    from planner.commands import export

    cli.add_command(export.export)

    from planner.commands import quarterly

    cli.add_command(quarterly.plan)

    from planner.commands import whatif

    cli.add_command(whatif.whatif)

    from planner.commands import attribute

    cli.add_command(attribute.attribute)

    from planner.commands import aws

    prices.prices.add_command(aws.refresh)
    cli.add_command(aws.inventory)
    cli.add_command(aws.compare_aws)

    from planner.commands import forecast, usage

    cli.add_command(usage.usage)
    cli.add_command(forecast.forecast)

    from planner.commands import backtest

    cli.add_command(backtest.backtest)

    from planner.commands import plan as optimize_cmd

    cli.add_command(optimize_cmd.optimize_command)


_register()


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    cli()
