"""Writes one family-day file of generated events, injects the scheduled faults and keeps the accounting ingest
must reproduce (``records_read = landed + quarantined + duplicates + dropped``, docs/requirements/design.md#nothing-lost).

The fate of every valid event is decided here the way the lake contract defines it, independently of the
ingest code: an event of an opted-out player is dropped (``opted_out``; ability summaries land without a player
instead, docs/requirements/ability.md#privacy); else an event whose rate r < 1 (from
``schemas/sampling.yml``, value rules first, else the schema's rate) is dropped (``sampled_out``) unless
HMAC-SHA256(sampling secret, ``<raw player id>|<event type>``) read as a fraction is below r (docs/requirements/gameplay.md#sampling; the
sampling secret is the one ingest derives from the hash key when no other is configured); else a LOBBY_ATTEMPT
beyond 5 of its player in (t − 60 s, t] among those accepted earlier in the file is ``rate_limited``
(docs/requirements/politics.md#anti-abuse);
else it lands in partition (event_type, event_date).

Fault schedule (with ``--faults``): in every file, fault kind number *k* is injected once after the
``3 + 2k``-th valid event, and once more every :data:`FAULT_EVERY` valid events after that; a kind still missing
when the file ends is injected at its end. So every file holds at least one fault of each kind, and the number
grows with the file's size. Each injected line is listed in ``faults.jsonl`` (file, line, kind, reason).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from .base import Emitted, EmittedBatch, FamilyGenerator, date_text
from .players import US_PER_DAY, Player

FAULT_EVERY = 25_000
"""One more fault of each kind per this many valid events of a file."""

RESERVOIR = 8
"""Landed lines of a file kept to be resent (as duplicates) at the start of the family's next file."""


@dataclass
class FileAccounting:
    """What ingest must report for one generated file (one batch).

    Attributes:
        path: file path relative to the output folder.
        family: family name.
        as_of: the ingest clock to use for this file, ISO 8601 UTC.
        lines: lines in the file; records: accounting units (one per line, one per event of a batch envelope).
        partitions: ``"<event_type>|<event_date>"`` → events that must land there.
    """

    path: str
    family: str
    as_of: str
    lines: int = 0
    records: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    partitions: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "family": self.family, "as_of": self.as_of, "lines": self.lines,
            "records": self.records, "landed": self.landed, "quarantined": sum(self.quarantined.values()),
            "duplicates": self.duplicates, "dropped": sum(self.dropped.values()),
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
            "faults_by_kind": dict(sorted(self.faults.items())),
            "partitions": dict(sorted(self.partitions.items())),
        }


class Sampler:
    """Which events ingest keeps under its sampling rules (docs/requirements/gameplay.md#sampling), written
    independently of the ingest code.

    Args:
        key: the HMAC key ingest hashes player ids with (the sampling secret is derived from it, as ingest does
            when neither a keyring ``sampling_secret`` nor ``TELEMETRY_SAMPLING_KEY`` is set).
        rates: qualified event type → base sample rate (types absent or at 1.0 are always kept).
        rules: qualified event type → ``[(field, values, rate), …]`` value rules (first match wins).
    """

    def __init__(self, key: bytes, rates: dict[str, float],
                 rules: dict[str, list[tuple[str, frozenset, float]]] | None = None):
        import os

        env = os.environ.get("TELEMETRY_SAMPLING_KEY")
        self.secret = env.encode() if env else hmac.new(key, b"telemetry sampling secret v1", hashlib.sha256).digest()
        self.rates = dict(rates)
        self.rules = rules or {}

    def keeps(self, player_id: str | None, event_type: str, event: dict[str, Any] | None = None) -> bool:
        rate = self.rates.get(event_type, 1.0)
        for field_name, values, value_rate in self.rules.get(event_type, []):
            if event is not None and event.get(field_name) in values:
                rate = value_rate
                break
        if rate >= 1.0:
            return True
        if player_id is None:  # pragma: no cover - every sampled family names its player
            raise ValueError("sampling without a player id is decided on the event id; not generated")
        wire_type = event_type.split("_", 1)[1]
        digest = hmac.new(self.secret, f"{player_id}|{wire_type}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < rate


LOBBY_LIMIT, LOBBY_WINDOW_US = 5, 60_000_000  # docs/requirements/politics.md#anti-abuse, as schemas/politics/_family.json declares


class FileWriter:
    """Streams one family-day file.

    Args:
        path: absolute output path.
        relative: path written into the accounting and fault log.
        family: the family generator (faults are built with it).
        as_of_us: ingest clock for this file (epoch µs); ``as_of_text`` is the same in ISO 8601.
        day_us: start of the file's day (epoch µs).
        opted_out: wire player ids whose events ingest drops.
        sampler: ingest-side sampling decisions.
        rng: fault stream (None = no faults).
        fault_log: open ``faults.jsonl`` handle.
        fault_players: players faults are built for (never opted out).
    """

    def __init__(self, path: Path, relative: str, family: FamilyGenerator, as_of_us: int, as_of_text: str,
                 day_us: int, opted_out: frozenset[str], sampler: Sampler, rng: random.Random | None,
                 fault_log: IO[bytes] | None, fault_players: list[Player]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "wb", buffering=1 << 20)
        self.relative = relative
        self.family = family
        self.as_of_us = as_of_us
        self.day_us = day_us
        self.opted_out = opted_out
        self.sampler = sampler
        self.rng = rng
        self.fault_log = fault_log
        self.fault_players = fault_players
        self.accounting = FileAccounting(relative, family.name, as_of_text)
        self.reservoir: list[bytes] = []
        self.valid = 0
        self.kinds = family.fault_kinds() if rng is not None else {}
        if rng is not None:
            self.kinds = {**self.kinds, "duplicate": "duplicate"}
        self.schedule = {(3 + 2 * k) % FAULT_EVERY: kind for k, kind in enumerate(self.kinds)}
        self._last_landed: bytes | None = None
        self._buffer: list[bytes] = []
        self._partitions: dict[tuple[str, int], int] = {}
        self._lobby: dict[str, list[int]] = {}

    def _over_rate(self, emitted: Emitted) -> bool:
        times = self._lobby.setdefault(emitted.player_id or "", [])
        t = emitted.occurred_us
        if sum(1 for other in times if t - LOBBY_WINDOW_US < other <= t) >= LOBBY_LIMIT:
            return True
        times.append(t)
        return False

    def _line(self, data: bytes, records: int = 1) -> int:
        self._buffer.append(data)
        if len(self._buffer) >= 4096:
            self._flush()
        self.accounting.lines += 1
        self.accounting.records += records
        return self.accounting.lines

    def _flush(self) -> None:
        if self._buffer:
            self.handle.write(b"\n".join(self._buffer) + b"\n")
            self._buffer = []

    def _account(self, emitted: Emitted, data: bytes | None, own_day: bool) -> None:
        """Decide one valid event's fate (opted out, sampled out, landed); ``data`` is its single-line form."""
        acc = self.accounting
        if emitted.player_id is not None and emitted.player_id in self.opted_out and self.family.name != "ability":
            acc.dropped["opted_out"] += 1  # ability (docs/requirements/ability.md#privacy) lands them without a player: counted below
        elif not self.sampler.keeps(emitted.player_id, emitted.event_type, emitted.event):
            acc.dropped["sampled_out"] += 1
        elif emitted.event_type == "politics_lobby_attempt" and emitted.player_id is not None and self._over_rate(emitted):
            acc.quarantined["rate_limited"] += 1
        else:
            acc.landed += 1
            key = (emitted.event_type, emitted.occurred_us // US_PER_DAY)
            self._partitions[key] = self._partitions.get(key, 0) + 1
            if own_day:
                self._last_landed = data if data is not None else orjson.dumps(emitted.event)
                if self.rng is not None and len(self.reservoir) < RESERVOIR and self.rng.random() < 0.01:
                    self.reservoir.append(self._last_landed)
        if self.rng is not None:
            self.valid += 1
            kind = self.schedule.get(self.valid % FAULT_EVERY)
            if kind is not None and self.valid >= 3:
                self.inject(kind)

    def write(self, item: Emitted | EmittedBatch, own_day: bool = True) -> None:
        """Write a valid event (one line) or batch envelope (one line, one record per event). Each event lands
        unless its player opted out or ingest samples it out; ``own_day`` events (dated the file's day) may be
        duplicated later."""
        if isinstance(item, EmittedBatch):
            self._line(item.line(), records=len(item.events))
            for emitted in item.events:
                self._account(emitted, None, own_day)
            return
        data = orjson.dumps(item.event)
        self._line(data)
        self._account(item, data, own_day)

    def resend(self, data: bytes, source: str) -> None:
        """Write a line landed by an earlier file again: ingest must count it as a duplicate."""
        line = self._line(data)
        self.accounting.duplicates += 1
        self.accounting.faults["duplicate"] += 1
        self._log(line, "duplicate", "duplicate", f"resent from {source}")

    def inject(self, kind: str) -> None:
        """Write one bad line of ``kind`` (or a duplicate of the last landed event)."""
        assert self.rng is not None
        acc = self.accounting
        if kind == "duplicate":
            if self._last_landed is None:
                return
            line = self._line(self._last_landed)
            acc.duplicates += 1
            acc.faults[kind] += 1
            self._log(line, kind, "duplicate", "retry of the last landed event")
            return
        player = self.fault_players[self.rng.randrange(len(self.fault_players))]
        data = self.family.fault(kind, self.rng, player, self.day_us, self.as_of_us)
        line = self._line(data)
        reason = self.kinds[kind]
        acc.quarantined[reason] += 1
        acc.faults[kind] += 1
        self._log(line, kind, reason, None)

    def _log(self, line: int, kind: str, reason: str, note: str | None) -> None:
        if self.fault_log is not None:
            record = {"file": self.relative, "line": line, "kind": kind, "reason": reason}
            if note:
                record["note"] = note
            self.fault_log.write(orjson.dumps(record) + b"\n")

    def close(self) -> FileAccounting:
        """Inject the kinds the file has not had yet, flush and close; returns the accounting."""
        for kind in self.kinds:
            if self.accounting.faults[kind] == 0:
                self.inject(kind)
        self._flush()
        self.handle.close()
        for (event_type, day), count in self._partitions.items():
            self.accounting.partitions[f"{event_type}|{date_text(day)}"] += count
        return self.accounting
