"""The row path, the reference: classify lines one event at a time (parse → fill → resolve → validate →
time checks → privacy → sampling → normalize) into a :class:`~ingest.pipeline.outcome.ChunkOutcome`.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ..errors import Rejection
from ..privacy.keys import IdentityHasher
from ..privacy.quarantine_crypto import QuarantineCipher
from ..registry.sampling import OptionalMetrics, TypeRule, degrade_optional, optional_metrics, sampled_in, sampling_rules
from ..registry.references import reference_values
from ..registry.schema import EventSchema, Registry, is_missing, resolve_pointer
from .outcome import ChunkOutcome, Dropped, RateCandidate, concat_rows
from .reader import Line
from .settings import IngestSettings


EVENT_ID_NAMESPACE = uuid.UUID("6f1c1b2e-3d4a-5b6c-8d7e-9f0a1b2c3d4e")
FUTURE_TOLERANCE = timedelta(minutes=5)  # docs/requirements/politics.md#anti-abuse
COLLECTOR_NOTE = "_collector"
"""Key of the note the collector adds to a spooled line: what it decided when the event arrived (``sample_rate``,
``country``, ``optional_factor``), so landing decides the same (docs/collector.md). Read only from spool files."""
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US_PER_DAY = 86_400_000_000


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

    def rows(self, events: list[dict[str, Any]], event_ids: list[str], occurred: list[int],
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
    note: dict[str, Any] | None = None
    """What the collector must note on the line for landing to decide the same (rate, country), or None."""


CHUNK_LINES = 5_000


class LineProcessor:
    """Classifies lines: parse → fill → resolve → validate → time checks → privacy → sampling → normalize.

    The reference :class:`~ingest.pipeline.processor.ChunkProcessor`; ``chunk_lines`` lines per chunk.
    """

    chunk_lines = CHUNK_LINES

    def __init__(self, registry: Registry, settings: IngestSettings):
        self.registry = registry
        self.settings = settings
        self.keyring = settings.keyring()
        self.cipher = QuarantineCipher(self.keyring)
        self.sampling_key = self.keyring.sampling_key()
        as_of = settings.as_of if settings.as_of.tzinfo else settings.as_of.replace(tzinfo=timezone.utc)
        self.as_of = as_of
        self.as_of_us = to_epoch_us(as_of)
        self.received_at = settings.received_at()
        self.received_iso = self.received_at.isoformat(timespec="microseconds") + "Z"
        self.lake_types = registry.lake_types()
        self.envelope_families = any(f.batch for f in registry.families.values())
        self._normalizers: dict[str, Normalizer] = {}
        self._date_strings: dict[int, str] = {}
        self._sampling: dict[str, dict[str, TypeRule]] = {
            name: sampling_rules(registry.root, name, family.manifest.get("sampling"))
            for name, family in registry.families.items()}
        self.rate_limited_types = set(registry.rate_limits())
        self.client_country: str | None = None
        """The country of the client's address (the collector sets it per request; never the address)."""
        self.adaptive_factor = 1.0
        """Multiplier of the rates of ``adaptive`` types (the collector's load, :class:`LoadPolicy`)."""

    @functools.cached_property
    def optional(self) -> dict[str, OptionalMetrics]:
        """Each family's optional metrics (its ``backpressure`` rule), read on first use: only the collector
        degrades them, so a file ingest over a registry copied without its dbt seeds never needs them."""
        rules = {name: optional_metrics(self.registry.seeds_dir, family)
                 for name, family in self.registry.families.items()}
        return {name: rule for name, rule in rules.items() if rule is not None}

    def reload_sampling(self) -> None:
        """Re-read the sampling rules (a no-op unless the file changed: the rules are cached by modification
        time), so a long-running collector follows edits without a restart.

        Raises:
            RegistryError: the changed file is missing or malformed (the rules in force stay).
        """
        self._sampling = {name: sampling_rules(self.registry.root, name, family.manifest.get("sampling"))
                          for name, family in self.registry.families.items()}

    def sampling_rule(self, family: str, event_type: str) -> TypeRule | None:
        return self._sampling.get(family, {}).get(event_type)

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
        batch envelope (docs/requirements/learning.md#batch), or :class:`Dropped` for a blank line.

        Raises:
            Rejection: the whole line is quarantined (bad JSON, encoding, too long, not an object, batch envelope
                too large).
        """
        if line.damaged:
            raise Rejection(line.damaged, [("", "", "partial last line of a damaged input file")])
        if line.length > self.settings.max_line_bytes:
            limit = self.settings.max_line_bytes
            raise Rejection("line_too_long", [("", "maxLength", f"line is {line.length} bytes; the limit is {limit}")])
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
        family = self.registry.batch_family(event) if self.envelope_families else None
        if family is None:
            return [(None, event)]
        rule = family.batch
        events = resolve_pointer(event, rule["events"])
        if not isinstance(events, list):
            raise Rejection("schema_violation", [(rule["events"], "type", "batch events must be an array")])
        limit = int(rule.get("max_events", 1000))
        if len(events) > limit:
            raise Rejection("batch_too_large", [(rule["events"], "maxItems",
                            f"batch holds {len(events)} events; at most {limit} are accepted (docs/requirements/learning.md#batch)")])
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
        note: dict[str, Any] = {}
        if self.settings.collector_notes and COLLECTOR_NOTE in event:
            event = dict(event)
            given = event.pop(COLLECTOR_NOTE)
            note = given if isinstance(given, dict) else {}
        family = self.registry.family_of(event)
        opt_out = family.opt_out_field
        if opt_out is not None and opt_out in event:
            event = dict(event)
            flag = event.pop(opt_out)
            if flag is True:
                return Dropped("opted_out")  # docs/requirements/gameplay.md: dropped server-side, before anything is kept
            if flag is not False:
                raise Rejection("schema_violation", [("/" + opt_out, "type", f"{opt_out} must be a boolean")])
        filled: tuple[str, ...] = ()
        if family.server_fills and not family.server_fills.keys() <= {"/" + k for k in event}:
            event = dict(event)
            filled = family.fill(event, self.received_iso)
        schema = family.resolve(event)
        stamp: dict[str, Any] = {}
        geoip = family.geoip_field
        country = note.get("country") if self.settings.collector_notes else self.client_country
        if geoip is not None and isinstance(country, str) and country and geoip[1:] not in event \
                and geoip[1:] in schema.document.get("properties", {}):
            event = dict(event)
            event[geoip[1:]] = stamp["country"] = country  # the address never reaches the event, only its country
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
            player_key = None  # docs/requirements/ability.md#privacy: no per-player row; the entry's counters still count
        event_id = normalizer.event_id(event)
        rule = self._sampling[family.name].get(schema.event_type)
        rate = rule.rate_for(event) if rule is not None else normalizer.sample_rate
        if rule is not None and rule.adaptive and self.adaptive_factor != 1.0:
            rate = min(1.0, rate * self.adaptive_factor)
        noted = note.get("sample_rate")
        if isinstance(noted, (int, float)) and not isinstance(noted, bool) and 0 < noted <= 1:
            rate = float(noted)  # the rate in force when the collector answered
        elif rule is not None:
            stamp["sample_rate"] = rate
        if rate < 1.0:
            raw_player = resolve_pointer(event, normalizer.player_pointer) if normalizer.player_pointer else None
            subject = event_id if raw_player is None or is_missing(raw_player) else str(raw_player)
            if not sampled_in(self.sampling_key, subject, schema.event_type, rate):
                return Dropped("sampled_out", rate)
        factor = note.get("optional_factor")
        if isinstance(factor, (int, float)) and not isinstance(factor, bool) and 0 < factor < 1 \
                and (optional := self.optional.get(family.name)) is not None:
            event = degrade_optional(event, optional, float(factor), self.sampling_key, event_id)
        return Accepted(normalizer, self.date_string(occurred_us), event, event_id, occurred_us, player_key, rate,
                        filled, stamp or None)

    def quarantine_row(self, line: Line, rejection: Rejection, batch_id: str, source: str,
                       record_index: int | None = None, event: Any = None) -> dict[str, Any]:
        """A quarantine row (docs/lake.md): the raw line and the full error messages sealed
        (docs/requirements/design.md#privacy-at-rest); in clear
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

    def rate_candidate(self, line: Line, schema: EventSchema, event_id: str, player_key: str | None, occurred_us: int,
                       batch_id: str, source: str, record_index: int | None = None, event: Any = None) -> RateCandidate:
        """An accepted event of a rate-limited type, with the quarantine row it gets if the batch writer finds it
        over the limit (docs/requirements/politics.md#anti-abuse)."""
        rejection = Rejection("rate_limited", [("", "maxItems", "over the per-player rate limit")],
                              schema.qualified_type, schema.schema_id, occurred_us)
        return RateCandidate(event_id, player_key, occurred_us,
                             self.quarantine_row(line, rejection, batch_id, source, record_index, event))

    def process_chunk(self, lines: list[Line], batch_id: str, source: str) -> ChunkOutcome:
        """Classify a chunk of lines and build the rows of each (event_type, event_date), one Arrow record batch each.

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
            members, built = self._partition_rows(members, batch_id, source, quarantine)
            if built is None:
                continue
            landed[key] = ([m[0].event_id for m in members], built)
            if key[0] in self.rate_limited_types:
                limited[key] = [self.rate_candidate(line, accepted.normalizer.schema, accepted.event_id,
                                                    accepted.player_key, accepted.occurred_us, batch_id, source,
                                                    record_index, event)
                                for accepted, line, record_index, event in members]
        return ChunkOutcome(landed, quarantine, dropped, len(lines), records, limited)

    def _partition_rows(self, members: list[tuple[Accepted, Line, int | None, Any]], batch_id: str, source: str,
                        quarantine: list[dict[str, Any]]
                        ) -> tuple[list[tuple[Accepted, Line, int | None, Any]], pa.RecordBatch | None]:
        """The rows of one (event_type, event_date) partition, in input order: each schema version's events are
        built with that version's columns, and the partition's rows hold the union of them (a column a
        version lacks is null in its rows). A value no lake column can hold quarantines its event as
        ``unconvertible_value`` (appended to ``quarantine``); returns the members kept and their rows (None when
        nothing is left)."""
        by_version: dict[str, list[int]] = {}
        for position, member in enumerate(members):
            by_version.setdefault(member[0].normalizer.schema.schema_id, []).append(position)
        kept_positions: list[int] = []
        parts: list[pa.RecordBatch] = []
        for positions in by_version.values():
            group = [members[p] for p in positions]
            built = self._rows(group, batch_id)
            if built is None:  # some value cannot be stored: find which, row by row
                fits = []
                for position, member in zip(positions, group):
                    if self._rows([member], batch_id) is not None:
                        fits.append(position)
                        continue
                    accepted, line, record_index, event = member
                    schema = accepted.normalizer.schema
                    quarantine.append(self.quarantine_row(line, Rejection(
                        "unconvertible_value", [("", "type", "a value does not fit its lake column type")],
                        schema.qualified_type, schema.schema_id, accepted.occurred_us),
                        batch_id, source, record_index, event))
                positions = fits
                if not positions:
                    continue
                built = self._rows([members[p] for p in positions], batch_id)
                assert built is not None
            kept_positions += positions
            parts.append(built)
        if not parts:
            return [], None
        if len(parts) == 1:
            return [members[p] for p in kept_positions], parts[0]
        order = np.argsort(np.array(kept_positions), kind="stable")
        rows = concat_rows(parts).take(pa.array(order))
        return [members[kept_positions[i]] for i in order], rows

    def _rows(self, members: list[tuple[Accepted, Line, int | None, Any]], batch_id: str) -> pa.RecordBatch | None:
        first = members[0][0]
        try:
            return first.normalizer.rows(
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
