"""What every SDK adapter shares: the neutral :class:`SdkEvent` and the mapping onto registry wire events.

Mapping (docs/sdks.md): the event name, normalised to snake case (``Mission Start`` → ``mission_start``), is
looked up among the registry's event types (families in name order); the user id becomes the family's player id,
the message/insert id its event id, the timestamp its event time (in the family's unit), and the properties its
fields — top level when the schema has the field, else inside the schema's free-form ``data`` object when it has
one (merged with a ``data`` object the SDK sent; a ``data`` property that is not an object is kept as sent, and the
schema quarantines the event). The SDK's device / anonymous id stands for a schema's ``client_guid`` (gameplay)
when it is not also the player id; gameplay's SDK events carry no ``seq`` (their event id is their identity). A
known name whose properties do not fit is quarantined ``schema_violation`` with a pointer per missing and extra
field. A name the registry does not know becomes a wire event of the default SDK family with that type, which the
registry quarantines as ``unknown_event_type`` (`telemetry schemas draft --from-quarantine` proposes a schema;
replay then lands it). SDK bookkeeping (``$lib``, context, IP, user agent) never lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ...errors import ConfigError
from ...registry.schema import EventSchema, Family, Registry

CLIENT_GUID = "client_guid"
"""The field an SDK's device / anonymous id fills when the schema has it (gameplay's client instance id)."""
DEFAULT_SDK_FAMILY = "politics"
"""Family for SDK event names the registry does not know: it routes on the type alone and the server fills its
version and time, so once a schema for the name is added, replay lands the quarantined events unchanged."""


class AdapterError(ValueError):
    """A payload that is not the SDK's wire format (answered 400 with this message)."""


@dataclass
class SdkEvent:
    """One event as an SDK sent it, before mapping.

    Attributes:
        name: the SDK's event name (``track`` event, PostHog ``event``, Snowplow action or schema name).
        user_id: the SDK's user id (or anonymous/distinct/device id when there is no user id).
        event_id: message id, insert id or uuid, when the SDK sent one.
        timestamp: event time (UTC), when the SDK sent one; the server's arrival time otherwise.
        properties: the event's own properties (SDK bookkeeping removed).
        device_id: the SDK's device / anonymous id, when it sent one (Segment ``anonymousId``, Amplitude
            ``device_id``, Mixpanel and PostHog ``$device_id``, Snowplow ``duid``).
    """

    name: str
    user_id: str | None
    event_id: str | None = None
    timestamp: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    device_id: str | None = None


def snake(name: str) -> str:
    """``Mission Start`` / ``mission-start`` / ``MISSION_START`` → ``mission_start``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_") or "unnamed"


def parse_time(value: Any) -> datetime | None:
    """An SDK timestamp: ISO 8601 text, or epoch seconds / milliseconds (numbers above 1e11 are ms)."""
    try:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value)):
            number = float(value)
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, timezone.utc)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WireMapper:
    """Maps :class:`SdkEvent` values onto wire events of the registry's families.

    Args:
        registry: the loaded registry.
        default_family: family for names the registry does not know.

    Raises:
        ConfigError: ``default_family`` is not in the registry.
    """

    def __init__(self, registry: Registry, default_family: str = DEFAULT_SDK_FAMILY):
        if default_family not in registry.families:
            raise ConfigError(f"--sdk-family {default_family!r}: no such family in the registry "
                              f"({', '.join(sorted(registry.families))})")
        self.registry = registry
        self.default_family = registry.families[default_family]
        self.types: dict[str, Family] = {}
        for name in sorted(registry.families):
            family = registry.families[name]
            for event_type in family.event_types():
                self.types.setdefault(event_type, family)

    def target(self, name: str) -> tuple[Family, str, bool]:
        """(family, registry event type, known) for an SDK event name."""
        event_type = snake(name)
        family = self.types.get(event_type)
        return (family, event_type, True) if family else (self.default_family, event_type, False)

    @staticmethod
    def version_for(family: Family, event_type: str, event: SdkEvent) -> EventSchema:
        """The schema an SDK event of a known type is shaped for: the type's default version (else its newest),
        unless the SDK sent an event id that version has no field for, then the newest version when it has one
        (ability 1.2: the SDK's id is the event id, docs/sdks.md)."""
        latest = family.latest(event_type)
        default = family.schemas.get((event_type, family.default_version(event_type) or ""), latest)
        if event.event_id and not default.envelope.get("event_id") and latest.envelope.get("event_id"):
            return latest
        return default

    def to_wire(self, event: SdkEvent, received: datetime) -> dict[str, Any]:
        """The wire event for one SDK event (see the module docstring for the rules)."""
        family, event_type, known = self.target(event.name)
        template = self.version_for(family, event_type, event) if known else family.schemas[sorted(family.schemas)[0]]
        envelope = template.envelope
        properties = template.document.get("properties", {})
        wire: dict[str, Any] = {}
        type_pointer = family.route["event_type"]
        if isinstance(type_pointer, str):
            wire[type_pointer[1:]] = event_type.upper() if family.route.get("event_type_case") == "lower" else event_type
        version_pointer = family.route["schema_version"]
        if known and (version_pointer not in family.server_fills
                      or template.version != family.default_version(event_type)):
            wire[version_pointer[1:]] = properties.get(version_pointer[1:], {}).get("const", template.version)
        moment = event.timestamp or received
        time_field, unit = envelope["occurred_at"]["field"][1:], envelope["occurred_at"]["unit"]
        wire[time_field] = (int(moment.timestamp() * 1000) if unit == "epoch_ms"
                            else moment.timestamp() if unit == "epoch_s" else iso(moment))
        if envelope.get("player_id") and event.user_id not in (None, ""):
            wire[envelope["player_id"][1:]] = str(event.user_id)
        if envelope.get("event_id") and event.event_id:
            wire[envelope["event_id"][1:]] = str(event.event_id)
        if known and CLIENT_GUID in properties and event.device_id not in (None, "") \
                and str(event.device_id) != event.user_id:
            wire[CLIENT_GUID] = str(event.device_id)  # a device id that is also the player id would land raw
        container = "data" if properties.get("data", {}).get("type") == "object" else None
        extra: dict[str, Any] = {}
        for key, value in event.properties.items():
            if key in wire:
                continue
            if known and key not in properties and container:
                extra[key] = value
            else:
                wire[key] = value
        if extra:
            sent = wire.get(container)
            if sent is None:
                wire[container] = extra
            elif isinstance(sent, dict):
                wire[container] = {**extra, **sent}  # the SDK's own `data` object wins over loose properties
            else:
                # a `data` property that is not an object: kept as sent (the schema quarantines the event, whole)
                wire.update((k, v) for k, v in extra.items() if k not in wire)
        return wire
