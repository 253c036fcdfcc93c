"""Every error this package raises on purpose, in one place.

Library code raises; only the command line (:mod:`ingest.cli`) turns an error into a one-line message and an
exit code. Three kinds, after dlt's terminal/transient split:

- :class:`DataError` (exit 1, terminal): the data is wrong — input rejected beyond tolerance, a failed check,
  a source file that cannot be converted. Retrying the same input gives the same answer.
- :class:`UsageError` (exit 2, terminal): the command or its configuration is wrong — missing hash key, no
  such file, unusable registry, a mart that does not exist.
- :class:`TransientError` (exit 3): the environment failed — a lock held by a running build, a download or a
  disk error. The same command may succeed later.

Each error carries structured fields and builds its message from them; none holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


REASON_CODES = (
    "invalid_json", "encoding_error", "line_too_long", "not_an_object", "truncated_input", "corrupt_input",
    "batch_too_large", "unknown_event_type", "unknown_schema_version", "schema_violation", "unknown_reference",
    "future_timestamp", "too_late", "rate_limited", "unconvertible_value",
)
"""Quarantine reason codes: a closed list (docs/requirements/design.md#nothing-lost, docs/lake.md)."""

DROP_REASONS = ("blank_line", "opted_out", "sampled_out")
"""Reasons an event is dropped by policy (counted, not quarantined)."""

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_INTERNAL = 70
"""A bug, not the user's doing (sysexits ``EX_SOFTWARE``): ``--debug`` shows the traceback."""


class TelemetryError(Exception):
    """Root of every error this package raises on purpose.

    Attributes:
        exit_code: what the command line exits with.
        retryable: whether the same command may succeed later.
    """

    exit_code: ClassVar[int] = EXIT_USAGE
    retryable: ClassVar[bool] = False


class DataError(TelemetryError):
    """The data is wrong (terminal, exit 1)."""

    exit_code = EXIT_DATA


class UsageError(TelemetryError):
    """The command or its configuration is wrong (terminal, exit 2)."""

    exit_code = EXIT_USAGE


class TransientError(TelemetryError):
    """The environment failed; retrying may succeed (exit 3)."""

    exit_code = EXIT_TRANSIENT
    retryable = True


# --- usage and configuration ---------------------------------------------------------------------------------
class ConfigError(UsageError):
    """Bad configuration: missing or short hash key, unreadable keyring, bad option value."""


@dataclass
class MissingExtra(UsageError, ImportError):
    """An optional part of the package is used without the extra that installs its dependencies
    (:mod:`ingest.extras`). Also an ``ImportError``, so code that probes an optional import keeps working.

    Attributes:
        feature: the part, e.g. ``the HTTP collector (telemetry serve)``.
        module: the module that is not installed.
        extra: the extra that installs it, e.g. ``collector``.
        install: the command that installs it.
    """

    feature: str
    module: str
    extra: str
    install: str

    def __str__(self) -> str:
        return f"{self.feature} needs {self.module}, which is not installed: {self.install}"


@dataclass
class RegistryError(UsageError):
    """A schema file or family manifest in ``schemas/`` is unusable.

    Attributes:
        path: file that failed to load.
        message: what is wrong with it.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class InputError(UsageError):
    """An input file cannot be opened or read at all. Bad lines inside a readable file are never raised: they
    are quarantined.

    Attributes:
        path: the input named on the command line.
        message: why it cannot be read.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class MartNotFound(UsageError):
    """No published Parquet file for the requested mart.

    Attributes:
        name: the mart asked for.
        folder: where published marts live.
        available: names that are published.
    """

    name: str
    folder: str
    available: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        shown = ", ".join(self.available) if self.available else "none yet (run `telemetry dbt build` or `telemetry publish`)"
        return f"mart {self.name!r} is not published under {self.folder}; published: {shown}"


@dataclass
class MissingInput(UsageError):
    """A step needs something an earlier step makes (a lake, a warehouse) and it is not there yet.

    Attributes:
        what: the missing thing, e.g. ``the warehouse data/warehouse.duckdb``.
        hint: the command that makes it.
    """

    what: str
    hint: str

    def __str__(self) -> str:
        return f"{self.what} does not exist: {self.hint}"


@dataclass
class InputsRefused(UsageError):
    """Some inputs of a run could not be ingested (unreadable, not a regular file, unreadable folder, changed
    while read); every other input was ingested. Raised at the end of the run.

    Attributes:
        refused: ``(path, why)`` for each input left out.
    """

    refused: list[tuple[str, str]]

    def __str__(self) -> str:
        shown = "; ".join(f"{path}: {why}" for path, why in self.refused[:3])
        more = f"; and {len(self.refused) - 3} more" if len(self.refused) > 3 else ""
        return f"{len(self.refused)} input(s) not ingested (every other input was): {shown}{more}"


# --- data ------------------------------------------------------------------------------------------------------
@dataclass
class SourceFileError(DataError):
    """A real data set's file cannot be converted by its importer; the whole file is refused.

    Attributes:
        source: the importer (``obd``, ``sc2``, ``waves``).
        path: the offending file or folder.
        line: 1-based line or row number when the problem is about one, else None.
        message: what is wrong.
    """

    source: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass
class RejectedInput(DataError):
    """Lines were quarantined or an input was damaged while the run required none (``--strict``).

    Attributes:
        quarantined: lines quarantined over the run.
        damaged: input files cut short or corrupt.
    """

    quarantined: int
    damaged: int = 0

    def __str__(self) -> str:
        return (f"strict: {self.quarantined} line(s) quarantined and {self.damaged} damaged input(s) "
                "(see lake/quarantine; `telemetry quarantine replay` after a fix)")


@dataclass
class CheckFailed(DataError):
    """A check over the data failed (a dbt build or test, an expectation, a demo's cross-check).

    Attributes:
        check: what was checked, e.g. ``dbt build``.
        detail: what failed.
    """

    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check} failed: {self.detail}"


@dataclass
class Rejection(DataError):
    """Why one input line was quarantined; the reason code is from the closed list in ``docs/lake.md``.

    Raised and caught inside the pipeline per line; never reaches a user as an error.

    Attributes:
        reason: reason code, e.g. ``schema_violation``.
        errors: every problem found, each ``(json_pointer, keyword, message)``.
        event_type: qualified event type when known (``recsys_click``), else None.
        schema_id: ``$id`` of the schema the line was checked against, when known.
        occurred_us: event time in epoch microseconds when readable, else None.
    """

    reason: str
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    event_type: str | None = None
    schema_id: str | None = None
    occurred_us: int | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASON_CODES:
            raise ValueError(f"{self.reason!r} is not a quarantine reason code")

    def __str__(self) -> str:
        first = f": {self.errors[0][0] or '/'} {self.errors[0][2]}" if self.errors else ""
        return f"{self.reason}{first}"


# --- transient -------------------------------------------------------------------------------------------------
@dataclass
class ResourceBusy(TransientError):
    """A file is held by another process (DuckDB's single-writer lock during a ``dbt build``).

    Attributes:
        path: the locked file.
        detail: what the library said.
    """

    path: str
    detail: str

    def __str__(self) -> str:
        return f"cannot open {self.path} (is a dbt build running?): {self.detail}"


@dataclass
class DownloadFailed(TransientError):
    """A download from a package registry failed or gave an unexpected file.

    Attributes:
        what: what was being fetched.
        detail: what went wrong.
    """

    what: str
    detail: str

    def __str__(self) -> str:
        return f"cannot fetch {self.what}: {self.detail}"


@dataclass
class LakeWriteFailed(TransientError):
    """Writing a batch into the lake failed (a full disk, an I/O error); the batch was not committed, nothing of
    it is visible and the next run redoes it.

    Attributes:
        path: the file or folder being written.
        message: what the operating system said.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"cannot write to the lake ({self.path}): {self.message}; the batch was not committed, run again once fixed"


@dataclass
class AlertsPending(TransientError):
    """Some alerts could not be delivered in this run; they stay in the outbox for the next one.

    Attributes:
        pending: (alert, destination) deliveries left pending.
        destinations: names of the destinations concerned.
    """

    pending: int
    destinations: list[str]

    def __str__(self) -> str:
        return (f"{self.pending} alert deliver(ies) pending for {', '.join(self.destinations)}; "
                "they are retried by the next `telemetry alerts send`")


# --- the HTTP collector ----------------------------------------------------------------------------------------
@dataclass
class TokensFileError(UsageError):
    """The collector's tokens file is missing, unreadable or malformed.

    Attributes:
        path: the tokens file (``TELEMETRY_TOKENS_FILE``).
        message: what is wrong with it.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"tokens file {self.path}: {self.message}"


@dataclass
class SpoolWriteFailed(TransientError):
    """Received events could not be made durable in the collector's spool (the request is not acknowledged).

    Attributes:
        path: the spool folder.
        message: what the operating system said.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"cannot append to the spool {self.path}: {self.message}"
