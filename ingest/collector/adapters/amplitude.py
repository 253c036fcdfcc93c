"""Amplitude HTTP V2 and batch APIs (``POST /2/httpapi``, ``/batch``; ``api_key`` in the body).

Mapping (docs/sdks.md): ``event_type`` → event type; ``user_id`` (else ``device_id``) → player id;
``insert_id`` → event id; ``time`` (epoch ms) → event time; ``event_properties`` → fields; ``device_id`` → device id. ``user_properties``,
IP, device and location fields are dropped.
"""

from __future__ import annotations

import time
from typing import Any

from .common import AdapterError, SdkEvent, parse_time


def event(item: Any) -> SdkEvent:
    if not isinstance(item, dict) or not isinstance(item.get("event_type"), str):
        raise AdapterError("each event must be an object with an 'event_type'")
    user = item.get("user_id") or item.get("device_id")
    properties = item.get("event_properties")
    device = item.get("device_id")
    return SdkEvent(item["event_type"], None if user is None else str(user), item.get("insert_id"),
                    parse_time(item.get("time")), dict(properties) if isinstance(properties, dict) else {},
                    None if device is None else str(device))


def parse(payload: Any) -> tuple[list[SdkEvent], str | None]:
    """Events of ``{"api_key", "events": [...]}``; the credential is ``api_key``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise AdapterError("the body must be an object with an 'events' array")
    return [event(item) for item in payload["events"]], payload.get("api_key")


def answer(count: int, size: int = 0) -> dict[str, Any]:
    """Amplitude's success body."""
    return {"code": 200, "events_ingested": count, "payload_size_bytes": size,
            "server_upload_time": int(time.time() * 1000)}
