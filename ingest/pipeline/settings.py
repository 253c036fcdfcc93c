"""The settings of an ingest run: clock, keys, late window/backfill, opt-out list, line limit (picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from ..privacy.keys import IdentityHasher, Keyring


DEFAULT_MAX_LINE_BYTES = 1 << 20


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
    collector_notes: bool = False
    """Read the collector's note on each line (``_collector``: the rate, country and degradation it applied,
    docs/collector.md): true only for the collector's own spool files; elsewhere the key is not a field."""

    @classmethod
    def with_keyring(cls, schemas_root: Path, keyring: Keyring, as_of: datetime, **options: Any) -> IngestSettings:
        rotations = tuple((d.isoformat(), h.key, h.key_id) for d, h in keyring.rotations)
        options.setdefault("sampling_key", keyring.sampling_key())
        return cls(schemas_root, keyring.base.key, keyring.base.key_id, as_of, rotations=rotations, **options)

    def received_at(self) -> datetime:
        """The clock as a naive UTC datetime (``received_at`` of every row; a naive ``as_of`` is UTC)."""
        as_of = self.as_of if self.as_of.tzinfo else self.as_of.replace(tzinfo=timezone.utc)
        return as_of.astimezone(timezone.utc).replace(tzinfo=None)

    def keyring(self) -> Keyring:
        return Keyring(IdentityHasher(self.key, self.key_id),
                       tuple((date.fromisoformat(d), IdentityHasher(k, i)) for d, k, i in self.rotations),
                       self.sampling_key or None)
