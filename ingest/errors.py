"""Exception hierarchy for the telemetry package.

Library code raises these; only :mod:`ingest.cli` turns them into messages and exit codes. Terminal
errors (bad data, bad configuration) and transient ones (I/O) are told apart by class, as dlt does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


REASON_CODES = (
    "invalid_json", "encoding_error", "line_too_long", "not_an_object", "truncated_input", "corrupt_input",
    "batch_too_large", "unknown_event_type", "unknown_schema_version", "schema_violation", "unknown_reference",
    "future_timestamp", "too_late",
)
"""Quarantine reason codes: a closed list (DESIGN §3, docs/lake.md)."""

DROP_REASONS = ("blank_line", "opted_out", "sampled_out")
"""Reasons an event is dropped by policy (counted, not quarantined)."""


class TelemetryError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(TelemetryError):
    """Bad configuration or usage: missing hash key, unknown data directory, bad option (CLI exit 2)."""


@dataclass
class RegistryError(TelemetryError):
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
class InputError(TelemetryError):
    """An input file cannot be opened or read at all (CLI exit 2). Bad lines inside a readable file are
    never raised: they are quarantined."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Rejection(TelemetryError):
    """Why one input line was quarantined; the reason code is from the closed list in ``docs/lake.md``.

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
