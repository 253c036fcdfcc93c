"""Field Day Lab WAVES events (TSV.gz) → learning JSON-lines in docs/requirements/learning.md#batch batch envelopes.

Source data: opengamedata/opengamedata-samples (MIT), a 10,000-event sample of real play of the browser game
WAVES, 2023-02-01 … 2023-02-26, 49 sessions (``../shared/data/waves/``, see ``../shared/data/README.md``). In
WAVES a student matches a wave to a target by moving sliders/arrows (amplitude, wavelength, offset), level by
level.

Output: one JSON-lines file whose lines are docs/requirements/learning.md#batch batch envelopes (``batch_id``, ``client_version``,
``schema_version``, ``events[]``), one batch per session and at most :data:`MAX_BATCH_EVENTS` events per
batch (a longer session is split into consecutive batches). Every event is in the
docs/requirements/learning.md#wire-format single-event shape
(``event_id``, ``student_id``, ``event_type``, ``timestamp``, ``data``, ``session_id``, ``mission_id``,
``game_version``) plus ``task_id`` and ``sequence``.

Mapping (:data:`CUSTOM_TYPES`, :func:`map_session`; reasons in ``docs/importers/waves.md``):

========================================  ==========================================================
WAVES                                     docs/requirements/learning.md#events event type
========================================  ==========================================================
``BEGIN``                                 ``task_start`` (task ``level-<n>``); when the session had
                                          already begun that level, also ``retry``
``COMPLETE``                              ``task_complete``
``FAIL``                                  ``failure``
``SUCCEED`` after a ``FAIL`` of the same  ``success_after_failure``
level attempt
``SUCCEED`` with no failure before it     not emitted (the seed has no plain success type; counted)
``CUSTOM`` ``SLIDER_MOVE_RELEASE`` /      ``decision_made`` (``data.control`` = slider / arrow /
``ARROW_MOVE_RELEASE`` / ``SKIP_BUTTON``  skip)
``CUSTOM`` ``QUESTION_ANSWER``            ``choice_made``
``CUSTOM`` ``RESET_BTN_PRESS``            ``restart``
``CUSTOM`` ``MENU_BUTTON`` /              ``pause`` (``data.phase`` = open / close)
``DISMISS_MENU_BUTTON``
no event for ≥ 60 s within a session      ``distraction`` (inferred, at the next event)
========================================  ==========================================================

Identity and privacy: WAVES has no user id (``user_id`` is empty); the student is the browser-persistent
``persistent_session_id`` (a device, not a verified person), hashed at ingest like any id. ``remote_addr`` (IP
address), ``http_user_agent`` and ``server_time`` are never copied. Time: ``timestamp`` has no zone and is read
as UTC; the row's ``server_time`` (the server's local clock, US Central) is 6 hours behind it within minutes in
every row, which the importer checks and reports (:attr:`WavesImportResult.server_offset_seconds`).

Public API: :func:`import_waves`, :func:`read_rows`, :func:`map_session`, :class:`WavesImportResult`,
:class:`SourceFileError`, :data:`waves_command`.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ..errors import SourceFileError
from ..lake.atomic import write_lines_atomic

__all__ = [
    "CUSTOM_TYPES",
    "DISTRACTION_IDLE_SECONDS",
    "MAX_BATCH_EVENTS",
    "MISSION_ID",
    "WavesImportResult",
    "WavesRow",
    "import_waves",
    "map_session",
    "read_rows",
]

#: docs/requirements/learning.md#batch: a batch holds at most 1,000 events (a larger one is rejected whole).
MAX_BATCH_EVENTS = 1000
#: No event for this many seconds inside a session is read as a distraction (an inferred ``distraction`` event).
DISTRACTION_IDLE_SECONDS = 60.0
#: WAVES is one game: its levels are the tasks of one mission.
MISSION_ID = "waves"
SCHEMA_VERSION = "1.0"
#: CUSTOM ``event_custom`` → (docs/requirements/learning.md#events event type, extra ``data``).
CUSTOM_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "SLIDER_MOVE_RELEASE": ("decision_made", {"control": "slider"}),
    "ARROW_MOVE_RELEASE": ("decision_made", {"control": "arrow"}),
    "SKIP_BUTTON": ("decision_made", {"control": "skip"}),
    "QUESTION_ANSWER": ("choice_made", {"control": "question"}),
    "RESET_BTN_PRESS": ("restart", {"control": "reset"}),
    "MENU_BUTTON": ("pause", {"phase": "open"}),
    "DISMISS_MENU_BUTTON": ("pause", {"phase": "close"}),
}
#: ``event_data`` keys that never leave the importer (personal or useless): IP, user agent, server clock, ids.
DROPPED_KEYS = frozenset({"remote_addr", "http_user_agent", "server_time", "persistent_session_id",
                          "event_custom", "event_data_complex"})
#: Expected ``server_time − timestamp`` (US Central, UTC−6 in February) and the tolerance of the UTC check.
SERVER_OFFSET_SECONDS = -6 * 3600
SERVER_OFFSET_TOLERANCE_SECONDS = 600
_REQUIRED = ("session_id", "timestamp", "event_name", "event_data", "app_version", "log_version", "index")


@dataclass(frozen=True)
class WavesRow:
    """One WAVES log row, parsed.

    Attributes:
        session_id: WAVES session id.
        student_id: ``persistent_session_id`` (falls back to the session id when absent).
        timestamp: event time, naive → UTC.
        kind: ``BEGIN``, ``COMPLETE``, ``SUCCEED``, ``FAIL`` or ``CUSTOM`` (``event_name`` before the dot).
        custom: ``event_custom`` of a CUSTOM row, else None.
        level: ``event_data.level``.
        index: the session-local ``index`` column (0-based, the client's order).
        data: ``event_data`` without :data:`DROPPED_KEYS`.
        app_version: ``app_version``.
        log_version: ``log_version``.
        server_offset_seconds: ``server_time − timestamp`` in seconds, or None.
    """

    session_id: str
    student_id: str
    timestamp: datetime
    kind: str
    custom: str | None
    level: int | None
    index: int
    data: dict[str, Any]
    app_version: str
    log_version: str
    server_offset_seconds: float | None


@dataclass(frozen=True)
class WavesImportResult:
    """What one :func:`import_waves` call wrote.

    Attributes:
        source: the TSV.gz.
        output: the JSON-lines file of batch envelopes.
        rows: data rows read.
        sessions: distinct WAVES sessions.
        students: distinct ``persistent_session_id``.
        batches: batch envelopes written.
        events: events written per docs/requirements/learning.md#events type.
        unmapped: rows not turned into an event, by reason.
        server_offset_seconds: (min, max) of ``server_time − timestamp`` over the rows.
    """

    source: Path
    output: Path
    rows: int
    sessions: int
    students: int
    batches: int
    events: dict[str, int]
    unmapped: dict[str, int] = field(default_factory=dict)
    server_offset_seconds: tuple[float, float] | None = None

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.events.items()))
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.unmapped.items())) or "none"
        offset = (f"; server_time − timestamp in [{self.server_offset_seconds[0] / 3600:+.2f} h, "
                  f"{self.server_offset_seconds[1] / 3600:+.2f} h]" if self.server_offset_seconds else "")
        return (f"{self.source} → {self.output}: {self.rows} rows, {self.sessions} sessions, {self.students} "
                f"students → {sum(self.events.values())} events in {self.batches} batches ({counts}); "
                f"not mapped: {skipped}{offset}")


# reading ------------------------------------------------------------------------------------------------------
def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def read_rows(path: Path) -> Iterator[WavesRow]:
    """Parse the WAVES export (tab-separated, header row, gzip or plain), row by row.

    ``event_data`` is a JSON object in a CSV-quoted field. ``timestamp`` has no zone and is read as UTC.

    Raises:
        SourceFileError: unreadable file, missing column, bad JSON in ``event_data``, bad timestamp or index.
    """
    path = Path(path)
    try:
        raw = gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" else \
            open(path, encoding="utf-8", newline="")
    except OSError as error:
        raise SourceFileError("waves", str(path), None, f"cannot open: {error.strerror or error}") from error
    with raw as handle:
        try:
            reader = csv.reader(handle, delimiter="\t", quotechar='"')
            header = next(reader, None)
            if header is None:
                raise SourceFileError("waves", str(path), None, "empty file (no header)")
            at = {name: n for n, name in enumerate(header)}
            missing = [name for name in _REQUIRED if name not in at]
            if missing:
                raise SourceFileError("waves", str(path), 0, f"missing column(s): {', '.join(missing)}")
            for number, row in enumerate(reader, start=1):
                if len(row) < len(header):
                    raise SourceFileError("waves", str(path), number, f"row has {len(row)} fields, header has {len(header)}")
                try:
                    payload = json.loads(row[at["event_data"]])
                except ValueError as error:
                    raise SourceFileError("waves", str(path), number, f"event_data is not JSON: {error}") from None
                if not isinstance(payload, dict):
                    raise SourceFileError("waves", str(path), number, "event_data is not a JSON object")
                try:
                    timestamp = _parse_time(row[at["timestamp"]])
                    index = int(row[at["index"]])
                except ValueError as error:
                    raise SourceFileError("waves", str(path), number, f"bad timestamp or index: {error}") from None
                offset = None
                if isinstance(payload.get("server_time"), str):
                    try:
                        offset = (datetime.fromisoformat(payload["server_time"]).replace(tzinfo=timezone.utc)
                                  - timestamp).total_seconds()
                    except ValueError:
                        offset = None
                kind = row[at["event_name"]].split(".", 1)[0]
                level = payload.get("level")
                session_id = row[at["session_id"]].strip()
                if not session_id:
                    raise SourceFileError("waves", str(path), number, "empty session_id")
                yield WavesRow(
                    session_id=session_id,
                    student_id=str(payload.get("persistent_session_id") or session_id),
                    timestamp=timestamp, kind=kind,
                    custom=payload.get("event_custom") if kind == "CUSTOM" else None,
                    level=level if isinstance(level, int) and not isinstance(level, bool) else None,
                    index=index,
                    data={k: v for k, v in payload.items() if k not in DROPPED_KEYS},
                    app_version=row[at["app_version"]], log_version=row[at["log_version"]],
                    server_offset_seconds=offset)
        except csv.Error as error:
            raise SourceFileError("waves", str(path), None, f"unreadable TSV: {error}") from error


# mapping ------------------------------------------------------------------------------------------------------
def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def map_session(rows: list[WavesRow], unmapped: Counter | None = None) -> list[dict[str, Any]]:
    """docs/requirements/learning.md#sessions events of one session's rows (any order in; ordered by ``index`` out).

    Args:
        rows: every row of one WAVES session.
        unmapped: incremented per reason for rows that become no event.

    Returns:
        Events in the client's order (``sequence`` = the WAVES ``index``), derived events (``retry``,
        ``distraction``) next to the row they come from, with ``data.inferred = true``.
    """
    unmapped = unmapped if unmapped is not None else Counter()
    rows = sorted(rows, key=lambda r: r.index)
    begun: set[int | None] = set()
    failed_since: dict[int | None, bool] = defaultdict(bool)  # level → a FAIL not yet followed by a SUCCEED
    events: list[dict[str, Any]] = []
    previous: datetime | None = None
    for row in rows:
        base = {"student_id": row.student_id, "schema_version": SCHEMA_VERSION, "timestamp": _iso(row.timestamp),
                "session_id": row.session_id, "mission_id": MISSION_ID, "sequence": row.index,
                "game_version": row.app_version}
        task = {"task_id": f"level-{row.level}"} if row.level is not None else {}
        event_id = f"waves-{row.session_id}-{row.index}"
        if previous is not None:
            idle = (row.timestamp - previous).total_seconds()
            if idle >= DISTRACTION_IDLE_SECONDS:
                events.append({"event_id": event_id + "-distraction", "event_type": "distraction", **base, **task,
                               "data": {"idle_seconds": round(idle, 3), "inferred": True}})
        previous = row.timestamp if previous is None else max(previous, row.timestamp)

        # emit runs only within this iteration, so the loop variables it reads are the current row's
        def emit(event_type: str, data: dict[str, Any], suffix: str = "") -> None:
            events.append({"event_id": event_id + suffix, "event_type": event_type, **base, **task,  # noqa: B023
                           "data": {"source_event": row.kind + (f"/{row.custom}" if row.custom else ""),  # noqa: B023
                                    **data}})

        if row.kind == "BEGIN":
            again = row.level in begun
            begun.add(row.level)
            failed_since[row.level] = False
            emit("task_start", row.data)
            if again:
                emit("retry", {"level": row.level, "inferred": True}, "-retry")
        elif row.kind == "COMPLETE":
            emit("task_complete", row.data)
        elif row.kind == "FAIL":
            failed_since[row.level] = True
            emit("failure", row.data)
        elif row.kind == "SUCCEED":
            if failed_since[row.level]:
                failed_since[row.level] = False
                emit("success_after_failure", row.data)
            else:
                unmapped["succeed_without_failure"] += 1
        elif row.kind == "CUSTOM" and row.custom in CUSTOM_TYPES:
            event_type, extra = CUSTOM_TYPES[row.custom]
            emit(event_type, {**row.data, **extra})
        else:
            unmapped[f"unknown_{row.kind}" + (f"_{row.custom}" if row.custom else "")] += 1
    return events




def import_waves(path: Path, out_dir: Path, *, batch_events: int = MAX_BATCH_EVENTS) -> WavesImportResult:
    """Convert the WAVES export into ``<out_dir>/waves_<name>.jsonl`` of docs/requirements/learning.md#batch batch envelopes.

    One batch per session (``batch_id = waves-<session_id>-<n>``, ``n`` from 0), split every ``batch_events``
    events; ``client_version`` is ``waves-log<log_version>`` and ``schema_version`` 1.0 is set once per batch
    (the ingest copies both into each event). Event ids are ``waves-<session_id>-<index>`` (+ ``-retry`` /
    ``-distraction`` for derived events), so a re-import deduplicates. The output is byte-identical on every run.

    Args:
        path: the ``.tsv.gz`` (or plain ``.tsv``) export.
        out_dir: output folder (created when missing).
        batch_events: largest batch, 1 … :data:`MAX_BATCH_EVENTS`.

    Raises:
        SourceFileError: unreadable input, a bad row, or timestamps that do not look like UTC (the rows'
            ``server_time`` is not 6 h ± 10 min behind ``timestamp``).
        ValueError: ``batch_events`` out of range.
    """
    if not 1 <= batch_events <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch_events must be within 1..{MAX_BATCH_EVENTS}")
    path = Path(path)
    sessions: dict[str, list[WavesRow]] = defaultdict(list)
    offsets: list[float] = []
    n_rows = 0
    for row in read_rows(path):
        sessions[row.session_id].append(row)
        n_rows += 1
        if row.server_offset_seconds is not None:
            offsets.append(row.server_offset_seconds)
    if offsets:
        worst = max(offsets, key=lambda o: abs(o - SERVER_OFFSET_SECONDS))
        if abs(worst - SERVER_OFFSET_SECONDS) > SERVER_OFFSET_TOLERANCE_SECONDS:
            raise SourceFileError("waves", str(path), None,
                                   f"server_time − timestamp = {worst:.0f} s in some row; expected "
                                   f"{SERVER_OFFSET_SECONDS} ± {SERVER_OFFSET_TOLERANCE_SECONDS} s if timestamp is UTC")
    unmapped: Counter = Counter()
    counts: Counter = Counter()
    lines: list[bytes] = []
    students = set()
    for session_id in sorted(sessions):
        rows = sessions[session_id]
        students.update(r.student_id for r in rows)
        events = map_session(rows, unmapped)
        counts.update(e["event_type"] for e in events)
        log_version = rows[0].log_version
        for n, start in enumerate(range(0, len(events), batch_events)):
            lines.append(orjson.dumps({"batch_id": f"waves-{session_id}-{n}",
                                       "client_version": f"waves-log{log_version}",
                                       "schema_version": SCHEMA_VERSION,
                                       "events": [{k: v for k, v in e.items() if k != "schema_version"}
                                                  for e in events[start:start + batch_events]]}))
    name = path.name.removesuffix(".gz").removesuffix(".tsv")
    output = Path(out_dir) / f"waves_{name}.jsonl"
    write_lines_atomic(output, lines)
    return WavesImportResult(source=path, output=output, rows=n_rows, sessions=len(sessions), students=len(students),
                             batches=len(lines), events=dict(counts), unmapped=dict(unmapped),
                             server_offset_seconds=(min(offsets), max(offsets)) if offsets else None)
