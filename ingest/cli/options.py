"""Options every command shares, and the few helpers that turn them into library objects."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from ..config import DATA_DIR_ENV, SCHEMAS_DIR
from ..privacy.keys import IdentityHasher, Keyring
from ..registry.schema import Registry


def data_dir_option(function):
    """``--data-dir`` (env ``TELEMETRY_DATA_DIR``, default ``./data``)."""
    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar=DATA_DIR_ENV,
        default=Path("data"), show_default=True, show_envvar=True,
        help="Data directory holding lake/, warehouse.duckdb and marts/.")(function)


def schemas_option(function):
    """``--schemas`` (env ``TELEMETRY_SCHEMAS_DIR``, default the project folder's ``schemas/``, :mod:`ingest.config`)."""
    return click.option(
        "--schemas", "schemas_dir", type=click.Path(file_okay=False, path_type=Path), envvar="TELEMETRY_SCHEMAS_DIR",
        default=SCHEMAS_DIR, show_default=True, help="Schema registry folder.")(function)


def key_options(function):
    """``--hash-key-file`` and ``--demo-key``: which keys hash player ids (see :func:`keyring`)."""
    function = click.option("--demo-key", is_flag=True,
                            help="Use the public demo hash key (demos only: ids are NOT protected).")(function)
    return click.option("--hash-key-file", type=click.Path(dir_okay=False, path_type=Path),
                        help="File holding the HMAC key (else TELEMETRY_HASH_KEYRING, else TELEMETRY_HASH_KEY).")(function)


def keyring(demo_key: bool, hash_key_file: Path | None) -> Keyring:
    """The keys to hash ids with: the public demo key (said aloud), else the configured keyring or key.

    Raises:
        ConfigError: no key configured (see :meth:`Keyring.from_environment`).
    """
    if demo_key:
        click.echo("note: using the public demo hash key 'demo' — fine for demos, never for real players", err=True)
        return Keyring.single(IdentityHasher.demo())
    return Keyring.from_environment(hash_key_file)


def load_registry(schemas_dir: Path) -> Registry:
    return Registry.load(schemas_dir)


def parse_as_of(value: str | None) -> datetime:
    """An ISO 8601 date or timestamp (naive = UTC); now when None."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or timestamp") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
