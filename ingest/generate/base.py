"""What every family generator provides, and the bad-input kinds built from it.

A family generator yields :class:`Emitted` events for one day (valid, per player in time order) and knows how to
make one valid event from scratch and how to change its time, version and type; from these hooks
:meth:`FamilyGenerator.fault` builds each bad-input kind with the ingest reason code it must get
(``docs/lake.md`` closed list).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any
from collections.abc import Iterator

import orjson

from .players import Player, Population, US_PER_DAY

GENERIC_FAULTS: dict[str, str] = {
    "invalid_json": "invalid_json",
    "unknown_field": "schema_violation",
    "unknown_event_type": "unknown_event_type",
    "unknown_schema_version": "unknown_schema_version",
    "future_timestamp": "future_timestamp",
    "too_late": "too_late",
}
"""Fault kind → the quarantine reason ingest must give it (every family)."""

FUTURE_OFFSET_US = 2 * 3_600_000_000
"""A future event is this far after the file's as-of clock (well beyond the 5-minute tolerance,
docs/requirements/politics.md#anti-abuse)."""

LATE_OFFSET_DAYS = 4
"""A too-late event is dated this many days before its file's day (beyond the T+2 days late window)."""


@dataclass(slots=True)
class Emitted:
    """One valid wire event as generated.

    Attributes:
        event: the wire object (serialised with orjson, keys in insertion order).
        player_id: the wire player id ingest hashes (and checks against the opt-out list); None when the event
            names no player.
        event_type: qualified lake event type, e.g. ``politics_bill_vote``.
        occurred_us: event time, epoch microseconds UTC (its UTC date is the lake partition).
    """

    event: dict[str, Any]
    player_id: str | None
    event_type: str
    occurred_us: int

    @property
    def event_date(self) -> str:
        return date_text(self.occurred_us // US_PER_DAY)


@dataclass(slots=True)
class EmittedBatch:
    """A batch envelope line (docs/requirements/learning.md#batch): ``envelope`` plus ``events`` under the key ``events``; each event counts
    as one record. Keys in ``inherited`` are left out of each event on the wire because ingest copies them from
    the envelope into every event that lacks them (family manifest ``batch.inherit``).

    Attributes:
        envelope: batch-level fields (e.g. ``batch_id``, ``client_version``, ``schema_version``).
        events: the events, complete (as ingest sees them after inheritance).
        inherited: event keys carried by the envelope instead.
    """

    envelope: dict[str, Any]
    events: list[Emitted]
    inherited: tuple[str, ...] = ()

    def line(self) -> bytes:
        events = [{k: v for k, v in e.event.items() if k not in self.inherited} for e in self.events]
        return orjson.dumps({**self.envelope, "events": events})


_DATES: dict[int, str] = {}


def date_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day number since 1970-01-01 (cached)."""
    text = _DATES.get(day)
    if text is None:
        from datetime import timedelta

        text = _DATES[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
    return text


class FamilyGenerator:
    """Base class of the per-family generators.

    Subclasses set :attr:`name`, :attr:`extra_faults` and implement :meth:`day_events`, :meth:`player_id`,
    :meth:`base_event`, :meth:`with_time`, :meth:`with_bad_version` and (when the family's type is on the wire)
    :meth:`with_unknown_type`.

    Args:
        population: the players.
        seed: master seed (each day draws from its own stream derived from it).
    """

    name = ""
    extra_faults: dict[str, str] = {}
    """Family-specific fault kind → reason (e.g. politics ``unknown_bill`` → ``unknown_reference``)."""
    has_wire_type = True

    def __init__(self, population: Population, seed: int):
        self.population = population
        self.seed = seed

    # --- hooks ------------------------------------------------------------------------------------------------
    def day_events(self, day_index: int, day: date, rng: random.Random) -> Iterator[Emitted]:
        """Valid events of every player of this family active on ``day``, grouped by player, time-ordered."""
        raise NotImplementedError

    def player_id(self, player: Player) -> str:
        """The player's id on this family's wire."""
        raise NotImplementedError

    def base_event(self, rng: random.Random, player: Player, at_us: int) -> dict[str, Any]:
        """One valid event of this family at ``at_us`` (the raw material of faults)."""
        raise NotImplementedError

    def with_time(self, event: dict[str, Any], at_us: int) -> dict[str, Any]:
        raise NotImplementedError

    def with_bad_version(self, event: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def with_unknown_type(self, event: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def extra_fault(self, kind: str, rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
        """Apply a family-specific fault ``kind`` to a valid base event."""
        raise NotImplementedError

    # --- faults -----------------------------------------------------------------------------------------------
    def fault_kinds(self) -> dict[str, str]:
        """Every fault kind this family can inject → expected quarantine reason."""
        kinds = dict(GENERIC_FAULTS)
        if not self.has_wire_type:
            del kinds["unknown_event_type"]
        kinds.update(self.extra_faults)
        return kinds

    def fault(self, kind: str, rng: random.Random, player: Player, day_us: int, as_of_us: int) -> bytes:
        """The bytes of one bad line of ``kind`` (no newline), built from a valid event of ``player``.

        Raises:
            KeyError: unknown kind.
        """
        at_us = day_us + rng.randrange(US_PER_DAY)
        at_us = min(at_us, as_of_us - 3_600_000_000)
        event = self.base_event(rng, player, at_us)
        if kind == "invalid_json":
            text = orjson.dumps(event)
            return text[: max(1, len(text) // 2)]
        if kind == "unknown_field":
            event["unexpectedField"] = rng.randrange(100)
        elif kind == "unknown_event_type":
            event = self.with_unknown_type(event)
        elif kind == "unknown_schema_version":
            event = self.with_bad_version(event)
        elif kind == "future_timestamp":
            event = self.with_time(event, as_of_us + FUTURE_OFFSET_US + rng.randrange(3_600_000_000))
        elif kind == "too_late":
            event = self.with_time(event, day_us - LATE_OFFSET_DAYS * US_PER_DAY + rng.randrange(US_PER_DAY))
        elif kind in self.extra_faults:
            event = self.extra_fault(kind, rng, event)
        else:
            raise KeyError(kind)
        return orjson.dumps(event)
