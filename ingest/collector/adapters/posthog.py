"""PostHog capture API (``POST /batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``; ``api_key`` in the body).

Mapping (docs/sdks.md): ``event`` → event type (``$pageview`` → ``pageview``); ``distinct_id`` (top level or in
``properties``) → player id; ``uuid`` → event id; ``timestamp`` → event time; ``properties`` → fields, without
PostHog's own ``$``-prefixed bookkeeping (``$lib``, ``$ip``, ``$geoip_disable`` …; ``$session_id`` becomes
``session_id``) and without ``distinct_id`` and ``token``; ``$device_id`` → device id.
"""

from __future__ import annotations

from typing import Any

from .common import AdapterError, SdkEvent, parse_time


def event(item: Any) -> SdkEvent:
    if not isinstance(item, dict):
        raise AdapterError("each event must be a JSON object")
    name = item.get("event")
    if not isinstance(name, str) or not name:
        raise AdapterError("each event needs an 'event' name")
    raw = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    user = item.get("distinct_id", raw.get("distinct_id"))
    fields = {k: v for k, v in raw.items() if not k.startswith("$") and k not in ("distinct_id", "token")}
    if "$session_id" in raw:
        fields.setdefault("session_id", raw["$session_id"])
    device = raw.get("$device_id")
    return SdkEvent(name.lstrip("$"), None if user is None else str(user), item.get("uuid"),
                    parse_time(item.get("timestamp")), fields, None if device is None else str(device))


def parse(payload: Any) -> tuple[list[SdkEvent], str | None]:
    """Events of a body: ``{"api_key", "batch": [...]}``, a single event, or a JSON array of events.

    Returns:
        The events, and the ``api_key`` (a collector token here).
    """
    if isinstance(payload, list):
        items, key = payload, None
    elif isinstance(payload, dict):
        items = payload["batch"] if isinstance(payload.get("batch"), list) else [payload]
        key = payload.get("api_key") or payload.get("token")
    else:
        raise AdapterError("the body must be a JSON object or array")
    if key is None and items and isinstance(items[0], dict):
        key = items[0].get("api_key") or (items[0].get("properties") or {}).get("token")
    return [event(item) for item in items], key


def answer(count: int) -> dict[str, Any]:
    """PostHog answers ``{"status": 1}``."""
    return {"status": 1}
