"""Ingest one input file as one batch: parse → resolve → validate → normalize → privacy → dedup → land.

Contract (DESIGN §3–6, docs/lake.md): for every batch
``records_read = landed + quarantined + duplicates + dropped`` (a record is a line, or one event of a batch
envelope), recorded in the ledger and returned. A file
whose sha256 is already in the ledger is skipped. A batch writes under ``lake/_pending/``, commits by
renaming its ledger row into ``_ledger/`` and then publishes its files (docs/lake.md, "Batch commit"): readers
never see a batch without its ledger row, and a re-run lands every event exactly once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import orjson
import pyarrow as pa

from ..errors import InputError, LakeWriteFailed, RegistryError, Rejection
from ..privacy.keys import IdentityHasher, Keyring
from ..lake.atomic import write_parquet_atomic
from ..lake.layout import Lake, LedgerEntry, PartitionCount
from ..privacy.quarantine_crypto import QuarantineCipher
from ..registry.sampling import TypeRule, sampled_in, sampling_rules
from .dedup import LandedIds, SeenIds, digests
from .reader import Line, LineReader, open_input, read_extent
from ..registry.schema import EventSchema, Registry, is_missing, resolve_pointer

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1b2e-3d4a-5b6c-8d7e-9f0a1b2c3d4e")
FUTURE_TOLERANCE = timedelta(minutes=5)  # seed 000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US_PER_DAY = 86_400_000_000
DEFAULT_MAX_LINE_BYTES = 1 << 20
ROWS_PER_FILE = 200_000
MAX_BUFFERED_ROWS = 400_000
QUARANTINE_ROWS_PER_FILE = 50_000


def uuid5_text(name: bytes) -> str:
    """``str(uuid.uuid5(EVENT_ID_NAMESPACE, name))`` without building UUID objects (hot path, RFC 4122 §4.3)."""
    digest = bytearray(hashlib.sha1(EVENT_ID_NAMESPACE.bytes + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def to_epoch_us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // timedelta(microseconds=1)


def _occurred_us(value: Any, unit: str) -> int | None:
    """Event time in epoch microseconds from a wire value, or None when unreadable."""
    try:
        if isinstance(value, bool):
            return None
        if unit == "epoch_ms" and isinstance(value, (int, float)):
            return int(value * 1000)
        if unit == "epoch_s" and isinstance(value, (int, float)):
            return int(round(value * 1_000_000))
        if unit == "iso8601" and isinstance(value, str):
            return to_epoch_us(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return None
    return None


@dataclass
class Dropped:
    """An event dropped by policy (not an error): ``opted_out``, ``sampled_out`` or ``blank_line``."""

    reason: str


@dataclass
class BatchResult:
    """What one batch did. ``records_read == landed + quarantined + duplicates + dropped`` always holds;
    ``records_read == lines_read`` unless the input holds batch envelopes (seed 004: one record per event).

    Attributes:
        partitions: ``(event_type, event_date)`` → ``[landed, duplicates]``.
        damage: ``truncated_input`` / ``corrupt_input`` when the file was cut short, else None.
    """

    batch_id: str
    source_file: str
    source_sha256: str
    skipped: bool = False
    lines_read: int = 0
    records_read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    dropped: int = 0
    server_filled: int = 0
    quarantined_by_reason: Counter = field(default_factory=Counter)
    dropped_by_reason: Counter = field(default_factory=Counter)
    partitions: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    damage: str | None = None
    damage_message: str | None = None

    @property
    def balanced(self) -> bool:
        return self.records_read == self.landed + self.quarantined + self.duplicates + self.dropped


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a regular file as it was when opened (bytes appended meanwhile are not
    covered).

    Raises:
        InputError: the file cannot be read, or is not a regular file (a FIFO, socket or device).
    """
    digest, size = hashlib.sha256(), 0
    handle, extent = open_input(path)
    try:
        with handle:
            for chunk in read_extent(handle, extent):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise InputError(str(path), error.strerror or str(error)) from error
    return digest.hexdigest(), size


class Normalizer:
    """Turns valid wire events of one schema into lake rows (envelope + payload, docs/lake.md)."""

    def __init__(self, schema: EventSchema, seeds_dir: Path):
        self.schema = schema
        env = schema.envelope
        self.time_pointer = env["occurred_at"]["field"]
        self.time_unit = env["occurred_at"]["unit"]
        self.event_id_pointer = env.get("event_id")
        self.event_id_from = env.get("event_id_from")
        self.player_pointer = env.get("player_id")
        self.session_pointer = env.get("session_id")
        self.columns = [(c.pointer[1:], c.action, c.convert) for c in schema.payload_columns]
        self.sample_rate = schema.sample_rate
        self.schema_for_lake = schema.arrow_schema
        self.references = [(pointer, reference_values(seeds_dir, rule))
                           for pointer, rule in schema.references.items()]

    def occurred_us(self, event: dict[str, Any]) -> int | None:
        return _occurred_us(resolve_pointer(event, self.time_pointer), self.time_unit)

    @staticmethod
    def _hashed(event: dict[str, Any], pointer: str | None, hasher: IdentityHasher) -> str | None:
        if pointer is None:
            return None
        raw = resolve_pointer(event, pointer)
        return None if raw is None or is_missing(raw) else hasher.hash(raw)

    def player_key(self, event: dict[str, Any], hasher: IdentityHasher) -> str | None:
        return self._hashed(event, self.player_pointer, hasher)

    def event_id(self, event: dict[str, Any]) -> str:
        if self.event_id_pointer:
            given = resolve_pointer(event, self.event_id_pointer)
            if isinstance(given, str) and given:
                return given
        if self.event_id_from:
            values = [resolve_pointer(event, p) for p in self.event_id_from]
            basis: Any = [self.schema.family, [None if is_missing(v) else v for v in values]]
        else:
            basis = event
        return uuid5_text(orjson.dumps(basis, option=orjson.OPT_SORT_KEYS))

    def record_batch(self, events: list[dict[str, Any]], event_ids: list[str], occurred: list[int],
                     players: list[str | None], received_us: int, batch_id: str,
                     hasher: IdentityHasher, rates: list[float] | None = None,
                     filled: list[tuple[str, ...]] | None = None) -> pa.RecordBatch:
        """Lake rows (envelope + payload, docs/lake.md) for valid events of this schema and one event date,
        built column-wise; ids are hashed with ``hasher``, the key in effect on that date.

        Args:
            rates: the sample rate that applied to each event (default: the schema's).
            filled: per event, the wire pointers the server filled (``occurred_at_source`` /
                ``schema_version_source`` say ``server`` for them).

        Raises:
            pyarrow.ArrowInvalid, pyarrow.ArrowTypeError, OverflowError: a value the column cannot hold.
        """
        n = len(events)
        filled = filled or [()] * n
        version_pointer = self.schema.family_route.get("schema_version")
        sessions = [self._hashed(e, self.session_pointer, hasher) for e in events] if self.session_pointer else [None] * n
        key_id = hasher.key_id
        arrays: list[Any] = [
            event_ids, [self.schema.version] * n, occurred, [received_us] * n, [batch_id] * n, players,
            [key_id if (p is not None or s is not None) else None for p, s in zip(players, sessions)],
            sessions, rates if rates is not None else [self.sample_rate] * n,
            ["server" if self.time_pointer in f else "event" for f in filled],
            ["server" if version_pointer in f else "event" for f in filled],
        ]
        for name, action, convert in self.columns:
            values = [e.get(name) for e in events]
            if action == "hash":
                values = [None if v is None else hasher.hash(v) for v in values]
            elif action == "hash_each":
                values = [None if v is None else [None if x is None else hasher.hash(x) for x in v] for v in values]
            elif action == "length":
                values = [len(v) if isinstance(v, str) else None for v in values]
            elif convert is not None:
                values = [None if v is None else convert(v) for v in values]
            arrays.append(values)
        schema = self.schema_for_lake
        return pa.RecordBatch.from_arrays([pa.array(v, type=f.type) for v, f in zip(arrays, schema)], schema=schema)


_REFERENCE_CACHE: dict[tuple[Path, str, str], frozenset[str]] = {}


def reference_values(seeds_dir: Path, rule: dict[str, str]) -> frozenset[str]:
    """Values of ``rule["column"]`` in the dbt seed ``seeds/<rule["seed"]>.csv`` (cached per process).

    Raises:
        RegistryError: the seed file or column does not exist.
    """
    key = (seeds_dir, rule["seed"], rule["column"])
    if key not in _REFERENCE_CACHE:
        import csv

        path = seeds_dir / f"{rule['seed']}.csv"
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                _REFERENCE_CACHE[key] = frozenset(row[rule["column"]] for row in csv.DictReader(handle))
        except (OSError, KeyError) as error:
            raise RegistryError(str(path), f"reference table unreadable or without column {rule['column']!r}: {error}") from error
    return _REFERENCE_CACHE[key]


@dataclass(frozen=True)
class IngestSettings:
    """Everything a worker needs to classify lines (picklable)."""

    schemas_root: Path
    key: bytes = field(repr=False)
    key_id: str
    as_of: datetime
    backfill: bool = False
    opted_out: frozenset[str] = field(default=frozenset(), repr=False)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    rotations: tuple[tuple[str, bytes, str], ...] = field(default=(), repr=False)
    """Keys that take effect from a date: ``(ISO date, key, key id)``; ``key``/``key_id`` apply before."""
    sampling_key: bytes = field(default=b"", repr=False)
    """The non-rotating sampling secret (:meth:`Keyring.sampling_key`); empty = derived from the base key."""

    @classmethod
    def with_keyring(cls, schemas_root: Path, keyring: Keyring, as_of: datetime, **options: Any) -> "IngestSettings":
        rotations = tuple((d.isoformat(), h.key, h.key_id) for d, h in keyring.rotations)
        options.setdefault("sampling_key", keyring.sampling_key())
        return cls(schemas_root, keyring.base.key, keyring.base.key_id, as_of, rotations=rotations, **options)

    def keyring(self) -> Keyring:
        return Keyring(IdentityHasher(self.key, self.key_id),
                       tuple((date.fromisoformat(d), IdentityHasher(k, i)) for d, k, i in self.rotations),
                       self.sampling_key or None)


@dataclass
class RateCandidate:
    """An event of a rate-limited type (seed 000 §9), decided in input order by the batch writer."""

    event_id: str
    player_key: str | None
    occurred_us: int
    quarantine_row: dict[str, Any]


@dataclass
class ChunkOutcome:
    """What one chunk of lines became (built in a worker, merged in order by the batch).

    Attributes:
        landed: ``(event_type, event_date)`` → (event ids, record batch of rows), before dedup.
        quarantine: quarantine rows (docs/lake.md columns).
        dropped: reason → count.
        lines: number of lines in the chunk.
        records: number of accounting units: one per line, but one per event for a batch-envelope line.
        rate_limited: ``(event_type, event_date)`` → candidates aligned with that key's event ids, for types
            with a rate limit; the writer quarantines the ones over the limit as ``rate_limited``.
    """

    landed: dict[tuple[str, str], tuple[list[str], pa.RecordBatch]]
    quarantine: list[dict[str, Any]]
    dropped: Counter
    lines: int
    records: int
    rate_limited: dict[tuple[str, str], list[RateCandidate]] = field(default_factory=dict)


@dataclass
class Accepted:
    """An event that passed every check, ready to become a lake row."""

    normalizer: Normalizer
    event_date: str
    event: dict[str, Any]
    event_id: str
    occurred_us: int
    player_key: str | None
    rate: float
    filled: tuple[str, ...]


class LineProcessor:
    """Classifies lines: parse → fill → resolve → validate → time checks → privacy → sampling → normalize."""

    def __init__(self, registry: Registry, settings: IngestSettings):
        self.registry = registry
        self.settings = settings
        self.keyring = settings.keyring()
        self.cipher = QuarantineCipher(self.keyring)
        self.sampling_key = self.keyring.sampling_key()
        as_of = settings.as_of if settings.as_of.tzinfo else settings.as_of.replace(tzinfo=timezone.utc)
        self.as_of = as_of
        self.as_of_us = to_epoch_us(as_of)
        self.received_at = as_of.astimezone(timezone.utc).replace(tzinfo=None)
        self.received_iso = self.received_at.isoformat(timespec="microseconds") + "Z"
        self.lake_types = registry.lake_types()
        self.batch_families = any(f.batch for f in registry.families.values())
        self._normalizers: dict[str, Normalizer] = {}
        self._date_strings: dict[int, str] = {}
        self._sampling: dict[str, dict[str, TypeRule]] = {
            name: sampling_rules(registry.root, name, family.manifest.get("sampling"))
            for name, family in registry.families.items()}
        self.rate_limited_types = {f"{name}_{t}" for name, family in registry.families.items() for t in family.rate_limits}

    def normalizer(self, schema: EventSchema) -> Normalizer:
        found = self._normalizers.get(schema.schema_id)
        if found is None:
            found = self._normalizers[schema.schema_id] = Normalizer(schema, self.registry.seeds_dir)
        return found

    def date_string(self, occurred_us: int) -> str:
        day = occurred_us // US_PER_DAY
        text = self._date_strings.get(day)
        if text is None:
            text = self._date_strings[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return text

    def parse(self, line: Line) -> list[tuple[int | None, dict[str, Any]]] | Dropped:
        """Parse one line into its events: ``[(None, event)]`` for a single event, ``[(index, event), …]`` for a
        batch envelope (seed 004), or :class:`Dropped` for a blank line.

        Raises:
            Rejection: the whole line is quarantined (bad JSON, encoding, too long, not an object, batch too large).
        """
        if line.damaged:
            raise Rejection(line.damaged, [("", "", "partial last line of a damaged input file")])
        if line.length > self.settings.max_line_bytes:
            raise Rejection("line_too_long", [("", "maxLength", f"line is {line.length} bytes; the limit is {self.settings.max_line_bytes}")])
        if not line.data.strip():
            return Dropped("blank_line")
        try:
            event = orjson.loads(line.data)
        except orjson.JSONDecodeError as error:
            try:
                line.data.decode("utf-8")
            except UnicodeDecodeError as decode_error:
                raise Rejection("encoding_error", [("", "", f"not UTF-8: {decode_error.reason} at byte {decode_error.start}")]) from None
            raise Rejection("invalid_json", [("", "", str(error))]) from None
        if not isinstance(event, dict):
            raise Rejection("not_an_object", [("", "type", f"expected a JSON object, got {type(event).__name__}")])
        family = self.registry.batch_family(event) if self.batch_families else None
        if family is None:
            return [(None, event)]
        rule = family.batch
        events = resolve_pointer(event, rule["events"])
        if not isinstance(events, list):
            raise Rejection("schema_violation", [(rule["events"], "type", "batch events must be an array")])
        limit = int(rule.get("max_events", 1000))
        if len(events) > limit:
            raise Rejection("batch_too_large", [(rule["events"], "maxItems",
                            f"batch holds {len(events)} events; at most {limit} are accepted (seed 004)")])
        inherit = rule.get("inherit", {})
        out = []
        for index, item in enumerate(events):
            if isinstance(item, dict):
                for pointer, key in inherit.items():
                    value = resolve_pointer(event, pointer)
                    if key not in item and not is_missing(value):
                        item[key] = value
            out.append((index, item))
        return out

    def classify(self, event: Any) -> Accepted | Dropped:
        """Classify one event.

        Returns:
            :class:`Accepted` for an event to land, or :class:`Dropped` (opted out, sampled out).

        Raises:
            Rejection: the event is quarantined with this reason.
        """
        if not isinstance(event, dict):
            raise Rejection("not_an_object", [("", "type", f"expected a JSON object, got {type(event).__name__}")])
        family = self.registry.family_of(event)
        opt_out = family.opt_out_field
        if opt_out is not None and opt_out in event:
            event = dict(event)
            flag = event.pop(opt_out)
            if flag is True:
                return Dropped("opted_out")  # seed 002: dropped server-side, before anything is kept
            if flag is not False:
                raise Rejection("schema_violation", [("/" + opt_out, "type", f"{opt_out} must be a boolean")])
        filled: tuple[str, ...] = ()
        if family.server_fills and not family.server_fills.keys() <= {"/" + k for k in event}:
            event = dict(event)
            filled = family.fill(event, self.received_iso)
        schema = family.resolve(event)
        normalizer = self.normalizer(schema)
        occurred_us = normalizer.occurred_us(event)
        rejection = schema.rejection(event)
        if rejection is not None:
            rejection.occurred_us = occurred_us
            raise rejection
        if occurred_us is None:
            raise Rejection("schema_violation", [(normalizer.time_pointer, "format", "event time is not readable")],
                            schema.qualified_type, schema.schema_id)
        for pointer, allowed in normalizer.references:
            value = resolve_pointer(event, pointer)
            if not is_missing(value) and value is not None and str(value) not in allowed:
                raise Rejection("unknown_reference", [(pointer, "enum", f"{value!r} is not in the reference table")],
                                schema.qualified_type, schema.schema_id, occurred_us)
        if occurred_us > self.as_of_us + FUTURE_TOLERANCE // timedelta(microseconds=1):
            raise Rejection("future_timestamp", [(normalizer.time_pointer, "maximum",
                            f"event time is more than 5 minutes after as-of {self.as_of.isoformat()}")],
                            schema.qualified_type, schema.schema_id, occurred_us)
        if not self.settings.backfill and occurred_us // US_PER_DAY < self.as_of_us // US_PER_DAY - family.late_window_days:
            raise Rejection("too_late", [(normalizer.time_pointer, "minimum",
                            f"event date is before the T+{family.late_window_days} days late window of as-of "
                            f"{self.as_of.date().isoformat()} (use --backfill to load history)")],
                            schema.qualified_type, schema.schema_id, occurred_us)
        player_key = normalizer.player_key(event, self.keyring.for_day(occurred_us // US_PER_DAY))
        if player_key is not None and player_key in self.settings.opted_out:
            if not family.opt_out_keeps_counters:
                return Dropped("opted_out")
            player_key = None  # seed 001 §10: no per-player row; the entry's counters still count
        event_id = normalizer.event_id(event)
        rule = self._sampling[family.name].get(schema.event_type)
        rate = rule.rate_for(event) if rule is not None else normalizer.sample_rate
        if rate < 1.0:
            raw_player = resolve_pointer(event, normalizer.player_pointer) if normalizer.player_pointer else None
            subject = event_id if raw_player is None or is_missing(raw_player) else str(raw_player)
            if not sampled_in(self.sampling_key, subject, schema.event_type, rate):
                return Dropped("sampled_out")
        return Accepted(normalizer, self.date_string(occurred_us), event, event_id, occurred_us, player_key, rate, filled)

    def quarantine_row(self, line: Line, rejection: Rejection, batch_id: str, source: str,
                       record_index: int | None = None, event: Any = None) -> dict[str, Any]:
        """A quarantine row (docs/lake.md): the raw line and the full error messages sealed (DESIGN §14); in clear
        only the reason, pointers and keywords, which hold no values."""
        event_date = None
        if rejection.occurred_us is not None and 0 <= rejection.occurred_us < 253402300800 * 10**6:
            event_date = date.fromisoformat(self.date_string(rejection.occurred_us))
        raw = line.data if record_index is None else orjson.dumps(event)
        day = self.as_of_us // US_PER_DAY
        key_id, sealed_raw = self.cipher.seal(bytes(raw), day, b"raw_bytes")
        messages = orjson.dumps([m for _, _, m in rejection.errors])
        _, sealed_errors = self.cipher.seal(messages, day, b"errors")
        return {
            "batch_id": batch_id, "source_file": source, "line_number": line.number, "record_index": record_index,
            "received_at": self.received_at, "received_date": self.received_at.date(), "reason": rejection.reason,
            "event_type": rejection.event_type, "schema_id": rejection.schema_id, "event_date": event_date,
            "errors": [{"pointer": p, "keyword": k, "message": redacted_message(rejection.reason, p, k)}
                       for p, k, _ in rejection.errors],
            "raw_bytes": sealed_raw, "raw_key_id": key_id, "errors_sealed": sealed_errors,
        }

    def process_chunk(self, lines: list[Line], batch_id: str, source: str) -> ChunkOutcome:
        """Classify a chunk of lines and build one Arrow record batch per (event_type, event_date).

        A value the lake column cannot hold (which a schema with storage bounds never lets through) quarantines
        its event as ``unconvertible_value``; the rest of the chunk lands.
        """
        groups: dict[tuple[str, str], list[tuple[Accepted, Line, int | None, Any]]] = {}
        quarantine: list[dict[str, Any]] = []
        dropped: Counter = Counter()
        records = 0
        for line in lines:
            try:
                items = self.parse(line)
            except Rejection as rejection:
                records += 1
                quarantine.append(self.quarantine_row(line, rejection, batch_id, source))
                continue
            if isinstance(items, Dropped):
                records += 1
                dropped[items.reason] += 1
                continue
            for record_index, event in items:
                records += 1
                try:
                    outcome = self.classify(event)
                except Rejection as rejection:
                    quarantine.append(self.quarantine_row(line, rejection, batch_id, source, record_index, event))
                    continue
                if isinstance(outcome, Dropped):
                    dropped[outcome.reason] += 1
                    continue
                key = (outcome.normalizer.schema.qualified_type, outcome.event_date)
                groups.setdefault(key, []).append((outcome, line, record_index, event))
        landed: dict[tuple[str, str], tuple[list[str], pa.RecordBatch]] = {}
        limited: dict[tuple[str, str], list[RateCandidate]] = {}
        for key, members in groups.items():
            built = self._record_batch(members, batch_id)
            if built is None:  # some value cannot be stored: find which, row by row
                kept = []
                for member in members:
                    if self._record_batch([member], batch_id) is None:
                        accepted, line, record_index, event = member
                        schema = accepted.normalizer.schema
                        quarantine.append(self.quarantine_row(line, Rejection(
                            "unconvertible_value", [("", "type", "a value does not fit its lake column type")],
                            schema.qualified_type, schema.schema_id, accepted.occurred_us),
                            batch_id, source, record_index, event))
                    else:
                        kept.append(member)
                members = kept
                if not members:
                    continue
                built = self._record_batch(members, batch_id)
                assert built is not None
            landed[key] = ([m[0].event_id for m in members], built)
            if key[0] in self.rate_limited_types:
                limited[key] = [RateCandidate(accepted.event_id, accepted.player_key, accepted.occurred_us,
                                              self.quarantine_row(line, Rejection(
                                                  "rate_limited", [("", "maxItems", "over the per-player rate limit")],
                                                  accepted.normalizer.schema.qualified_type,
                                                  accepted.normalizer.schema.schema_id, accepted.occurred_us),
                                                  batch_id, source, record_index, event))
                                for accepted, line, record_index, event in members]
        return ChunkOutcome(landed, quarantine, dropped, len(lines), records, limited)

    def _record_batch(self, members: list[tuple[Accepted, Line, int | None, Any]], batch_id: str) -> pa.RecordBatch | None:
        first = members[0][0]
        try:
            return first.normalizer.record_batch(
                [m[0].event for m in members], [m[0].event_id for m in members], [m[0].occurred_us for m in members],
                [m[0].player_key for m in members], self.as_of_us, batch_id,
                self.keyring.for_day(first.occurred_us // US_PER_DAY),
                rates=[m[0].rate for m in members], filled=[m[0].filled for m in members])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return None


def redacted_message(reason: str, pointer: str, keyword: str) -> str:
    """The clear-text message of a quarantine error: where and which rule, never the value (the full message
    is sealed with the raw line)."""
    where = pointer or "/"
    return f"{reason}: {keyword} at {where}" if keyword else f"{reason} at {where}"


_WORKER: Any = None


def _worker_init(settings: IngestSettings, columnar: bool = False) -> None:
    global _WORKER
    registry = Registry.load(settings.schemas_root)
    _WORKER = LineProcessor(registry, settings)
    if columnar:
        from .columnar import ColumnarProcessor

        _WORKER = ColumnarProcessor(registry, _WORKER, threads=1)


def _worker_chunk(task: tuple[list[tuple[int, bytes, int, str | None]], str, str]) -> ChunkOutcome:
    raw_lines, batch_id, source = task
    assert _WORKER is not None
    return _WORKER.process_chunk([Line(*t) for t in raw_lines], batch_id, source)


class BatchIngest:
    """Runs batches (one input file each) through the pipeline, on ``workers`` processes.

    Args:
        registry: the loaded schema registry (``registry.root`` is reloaded in worker processes).
        lake: the target lake.
        settings: clock, key, late/backfill, opt-out, line limit.
        workers: processes that parse and validate (1 = in this process). Merging, dedup and writing stay
            in this process, in input order, so the result does not depend on ``workers``.
        progress: called now and then with the number of input bytes consumed in the current file.
        rows_per_file: a partition's buffer is written out as a Parquet file at this many rows.
        columnar: validate and normalise in DuckDB where proven identical (``pipeline/columnar.py``), handing
            every other line to the row path. False = the row path only (the reference).
    """

    CHUNK_LINES = 5_000

    def __init__(self, registry: Registry, lake: Lake, settings: IngestSettings, *, workers: int = 1,
                 progress: Callable[[int], None] | None = None, rows_per_file: int = ROWS_PER_FILE,
                 columnar: bool = False):
        self.registry = registry
        self.lake = lake
        self.settings = settings
        self.workers = max(1, workers)
        self.progress = progress
        self.rows_per_file = rows_per_file
        self.landed_ids = LandedIds(lake)
        self._local = LineProcessor(registry, settings)
        self._pool = None
        self._columnar = None
        if columnar:
            from .columnar import ColumnarProcessor

            self._columnar = ColumnarProcessor(registry, self._local, threads=1 if self.workers > 1 else None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "BatchIngest":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _outcomes(self, reader: LineReader, batch_id: str, source: str) -> Iterator[ChunkOutcome]:
        size = self.CHUNK_LINES if self._columnar is None else self._columnar.chunk_lines

        def chunks() -> Iterator[list[Line]]:
            chunk: list[Line] = []
            for line in reader:
                chunk.append(line)
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        if self.workers == 1:
            processor = self._local if self._columnar is None else self._columnar
            for chunk in chunks():
                yield processor.process_chunk(chunk, batch_id, source)
            return
        if self._pool is None:
            context = multiprocessing.get_context("forkserver" if os.name != "nt" else "spawn")
            self._pool = context.Pool(self.workers, initializer=_worker_init,
                                      initargs=(self.settings, self._columnar is not None))
        # a bounded window of chunks in flight (Pool.imap would read the whole input ahead: memory grows with it)
        pending: deque = deque()
        for chunk in chunks():
            task = ([(l.number, l.data, l.length, l.damaged) for l in chunk], batch_id, source)
            pending.append(self._pool.apply_async(_worker_chunk, (task,)))
            if len(pending) > self.workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def run(self, path: Path) -> BatchResult:
        """Ingest ``path`` as one batch and return its accounting; only the bytes the file held when it was
        opened are read (its sha256, byte count and lines describe the same extent).

        Raises:
            InputError: the file cannot be read, is not a regular file, or was rewritten while being read
                (nothing of it lands).
            LakeWriteFailed: writing the lake failed (a full disk); nothing of the batch is visible.
        """
        path = Path(path)
        sha, size = file_sha256(path)
        batch_id = sha[:16]
        with self.lake.batch_lock(batch_id):
            if self.lake.settle(batch_id):  # committed (by an earlier run, perhaps not yet published)
                return BatchResult(batch_id, str(path), sha, skipped=True)
            try:
                writer = BatchWriter(self.lake, BatchResult(batch_id, str(path), sha),
                                     rows_per_file=self.rows_per_file, rate_rules=rate_rules(self.registry),
                                     landed_ids=self.landed_ids)
                reader = LineReader(path, store_cap=max(self.settings.max_line_bytes, 64 << 20), size=size)
                for outcome in self._outcomes(reader, batch_id, str(path)):
                    writer.add(outcome)
                    if self.progress is not None:
                        self.progress(reader.bytes_consumed)
                if not reader.read_failed and (reader.bytes_consumed, reader.sha256) != (size, sha):
                    raise InputError(str(path), "it changed while it was read (rewritten, not appended to): "
                                                "nothing of it landed; ingest it again once it is complete")
                writer.result.damage, writer.result.damage_message = reader.damage, reader.damage_message
                result = writer.finish(source_bytes=size, as_of=self._local.received_at,
                                       backfill=self.settings.backfill)
            except BaseException:
                self.landed_ids.forget()
                if not (self.lake.ledger / f"{batch_id}.parquet").exists():
                    self.lake.discard(batch_id)
                raise
            self.landed_ids.end_batch()
            return result


def _server_filled(rows: pa.RecordBatch) -> int:
    """Rows with a value the server filled (DESIGN §12)."""
    import pyarrow.compute as pc

    filled = pc.or_(pc.equal(rows.column("occurred_at_source"), "server"),
                    pc.equal(rows.column("schema_version_source"), "server"))
    return int(pc.sum(pc.cast(filled, pa.int64())).as_py() or 0)


def rate_rules(registry: Registry) -> dict[str, dict[str, Any]]:
    """Lake event type → rate-limit rule, from the family manifests (seed 000 §9)."""
    return {f"{name}_{t}": rule for name, family in registry.families.items() for t, rule in family.rate_limits.items()}


class BatchWriter:
    """Merges chunk outcomes of one batch in order: dedup by event id, buffered Parquet writes, quarantine,
    and the ledger row last (DESIGN §4).

    Files are written as pending files (:meth:`Lake.pending_path`) and published by
    :meth:`finish` after the ledger row. Creating a writer removes what an interrupted, uncommitted earlier run
    of the same batch left there, so a re-run lands each event exactly once. Write failures raise
    :class:`~ingest.errors.LakeWriteFailed`.

    Args:
        landed_ids: the run's cache of landed event ids (default: a fresh one, reading touched partitions).
    """

    def __init__(self, lake: Lake, result: BatchResult, *, write_quarantine: bool = True,
                 rows_per_file: int = ROWS_PER_FILE, rate_rules: dict[str, dict[str, Any]] | None = None,
                 landed_ids: LandedIds | None = None):
        self.lake = lake
        self.result = result
        self.rows_per_file = rows_per_file
        self.write_quarantine = write_quarantine
        self.started = datetime.now(timezone.utc)
        self.buffers: dict[tuple[str, str], list[pa.RecordBatch]] = defaultdict(list)
        self.buffered: Counter = Counter()
        self.seen: dict[tuple[str, str], SeenIds] = {}
        self.parts: Counter = Counter()
        self.quarantine: list[dict[str, Any]] = []
        self.quarantine_part = 0
        self._rate_rules: dict[str, dict[str, Any]] = dict(rate_rules or {})
        self._rate_times: dict[tuple[str, str], list[int]] = {}
        self.landed_ids = landed_ids if landed_ids is not None else LandedIds(lake)
        lake.discard(result.batch_id)


    def _flush(self, key: tuple[str, str]) -> None:
        if self.buffers[key]:
            table = pa.Table.from_batches(self.buffers[key])
            name = f"{self.result.batch_id}-{self.parts[key]:04d}.parquet"
            target = self.lake.pending_path(self.result.batch_id, self.lake.partition_dir(*key) / name)
            try:
                write_parquet_atomic(table, target)
            except OSError as error:
                raise LakeWriteFailed(str(target), error.strerror or str(error)) from error
            self.parts[key] += 1
        self.buffers[key] = []
        self.buffered[key] = 0

    def _flush_quarantine(self) -> None:
        if self.quarantine and self.write_quarantine:
            try:
                self.lake.write_quarantine(self.result.batch_id, self.quarantine_part, self.quarantine)
            except OSError as error:
                raise LakeWriteFailed(str(self.lake.pending),
                                      error.strerror or str(error)) from error
            self.quarantine_part += 1
        self.quarantine = []

    def add(self, outcome: ChunkOutcome) -> None:
        """Account for one chunk and buffer its new events (first occurrence of an event id wins)."""
        result = self.result
        result.lines_read += outcome.lines
        result.records_read += outcome.records
        for row in outcome.quarantine:
            result.quarantined_by_reason[row["reason"]] += 1
        result.quarantined += len(outcome.quarantine)
        self.quarantine += outcome.quarantine
        if len(self.quarantine) >= QUARANTINE_ROWS_PER_FILE:
            self._flush_quarantine()
        result.dropped_by_reason.update(outcome.dropped)
        result.dropped += sum(outcome.dropped.values())
        for key, (ids, batch) in outcome.landed.items():
            known = self.seen.get(key)
            if known is None:
                known = self.seen[key] = self.landed_ids.partition(key)
            candidates = outcome.rate_limited.get(key)
            keep = []
            duplicates = 0
            high, low = digests(ids)
            landed_before = known.contains(high, low)
            in_chunk: set[str] = set()
            for index, event_id in enumerate(ids):
                fresh = not landed_before[index] and event_id not in in_chunk
                if fresh and candidates is not None and not self._within_rate(key[0], candidates[index]):
                    fresh = False
                    self.quarantine.append(candidates[index].quarantine_row)
                    result.quarantined_by_reason["rate_limited"] += 1
                    result.quarantined += 1
                elif fresh:
                    in_chunk.add(event_id)
                else:
                    duplicates += 1
                keep.append(fresh)
            if in_chunk:
                mask = np.array(keep, dtype=bool)
                known.add(high[mask], low[mask])
            kept = sum(keep)
            stats = result.partitions.setdefault(key, [0, 0])
            stats[0] += kept
            stats[1] += duplicates
            result.landed += kept
            result.duplicates += duplicates
            if kept:
                rows = batch if kept == len(ids) else batch.filter(pa.array(keep))
                result.server_filled += _server_filled(rows)
                self.buffers[key].append(rows)
                self.buffered[key] += kept
            if self.buffered[key] >= self.rows_per_file:
                self._flush(key)
        if sum(self.buffered.values()) >= MAX_BUFFERED_ROWS:
            for key in list(self.buffers):
                self._flush(key)

    def _within_rate(self, lake_type: str, candidate: RateCandidate) -> bool:
        """Seed 000 §9 per-player rate limit, decided in input order: an event is over the limit when the player
        already has ``max_events`` accepted events of this type in this batch within ``(t − window, t]`` of its
        event time ``t``. Accepted events count towards later ones; rejected ones do not."""
        rule = self._rate_rules.get(lake_type)
        if rule is None or candidate.player_key is None:
            return True
        window_us = int(rule["window_seconds"] * 1_000_000)
        times = self._rate_times.setdefault((lake_type, candidate.player_key), [])
        t = candidate.occurred_us
        if sum(1 for other in times if t - window_us < other <= t) >= int(rule["max_events"]):
            return False
        times.append(t)
        return True

    def finish(self, *, source_bytes: int, as_of: datetime, backfill: bool, kind: str = "ingest") -> BatchResult:
        """Write what is buffered, then commit: the ledger row, then publish the files (docs/lake.md).

        Raises:
            LakeWriteFailed: a write or rename failed (before the ledger row: nothing is visible; after it: the
                next run publishes the rest).
        """
        for key in list(self.buffers):
            self._flush(key)
        self._flush_quarantine()
        result = self.result
        entry = LedgerEntry(
            batch_id=result.batch_id, kind=kind, source_file=result.source_file, source_sha256=result.source_sha256,
            source_bytes=source_bytes, as_of=as_of.replace(tzinfo=None), started_at=self.started.replace(tzinfo=None),
            finished_at=datetime.now(timezone.utc).replace(tzinfo=None), backfill=backfill,
            lines_read=result.lines_read, records_read=result.records_read, landed=result.landed,
            quarantined=result.quarantined, duplicates=result.duplicates, dropped=result.dropped,
            server_filled=result.server_filled,
            partitions=tuple(PartitionCount(t, date.fromisoformat(d), n, dup)
                             for (t, d), (n, dup) in sorted(result.partitions.items())))
        try:
            published = self.lake.commit(entry)
        except OSError as error:
            raise LakeWriteFailed(str(self.lake.root), error.strerror or str(error)) from error
        self.landed_ids.published(p for p in published if self.lake.events in p.parents)
        return result
