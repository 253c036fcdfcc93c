"""The ``telemetry`` command line: parses arguments, calls the library, prints, sets the exit code.

Each command group lives in its own module of this package; this one assembles them and is the only place
that turns errors into messages and exit codes (:mod:`ingest.errors`): 0 ok, 1 data rejected or a failed
check, 2 usage or configuration, 3 transient (retry may succeed), 70 internal error. No traceback reaches a
user unless ``--debug`` is given.
"""

from __future__ import annotations

import errno

import click

from ..errors import EXIT_INTERNAL, EXIT_TRANSIENT, TelemetryError
from ..extras import DISTRIBUTION
from .alerts import alerts
from .demo import demo
from .generate import generate_command
from .importers import import_
from .ingest import ingest
from .lifecycle import compact_command, erase, retention
from .quality import dq
from .quarantine import quarantine
from .report import report
from .schemas import schemas
from .serve import serve
from .tokens import tokens
from .warehouse import dbt, publish


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
"""Errors of a full disk or quota: transient wherever they arise (exit 3)."""


class TelemetryGroup(click.Group):
    """Turns library errors into one-line messages and their exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TelemetryError as error:
            if ctx.params.get("debug"):
                raise
            hint = " (it may succeed if retried)" if error.retryable else ""
            click.echo(f"error: {error}{hint}", err=True)
            ctx.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # a bug: say so in one line; --debug shows where
            if ctx.params.get("debug"):
                raise
            if isinstance(error, OSError) and error.errno in DISK_FULL:  # the environment, not a bug
                where = f" ({error.filename})" if error.filename else ""
                click.echo(f"error: {error.strerror or error}{where} (it may succeed if retried once space is freed)",
                           err=True)
                ctx.exit(EXIT_TRANSIENT)
            click.echo(f"internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)",
                       err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=TelemetryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def main(debug: bool) -> None:
    """Game-telemetry warehouse: registry, ingest to the Parquet lake, dbt warehouse, readers.

    Exit codes: 0 ok; 1 data rejected (--strict) or a failed check; 2 usage or configuration error;
    3 transient error (a lock, a download, a full disk: retry); 70 internal error.
    """


for command in (schemas, ingest, quarantine, retention, compact_command, erase, dbt, publish, dq, report, import_,
                generate_command, demo, serve, tokens, alerts):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
