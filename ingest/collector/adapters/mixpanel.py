"""Mixpanel ingestion API (``POST /track``, ``/import``, also ``/engage``): form-encoded ``data`` holding a JSON
event or array (plain or base64), or a JSON body. The project ``token`` travels in each event's properties.

Mapping (docs/sdks.md): ``event`` → event type; ``properties.distinct_id`` → player id; ``$insert_id`` → event
id; ``time`` (seconds or milliseconds) → event time; the other properties → fields, without Mixpanel's
bookkeeping (``token``, ``mp_lib``, ``$lib_version``, ``ip`` and other ``$``/``mp_`` keys); ``$device_id`` → device
id.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

import orjson

from .common import AdapterError, SdkEvent, parse_time


def decode(body: bytes, content_type: str) -> Any:
    """The events of a request body: form field ``data`` (JSON or base64 JSON) or a JSON body."""
    if "json" in content_type:
        text = body
    else:
        form = parse_qs(body.decode("utf-8", errors="replace"))
        values = form.get("data")
        if not values:
            raise AdapterError("expected a form field 'data' holding the events")
        text = values[0].encode()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return orjson.loads(base64.b64decode(text + b"=" * (-len(text) % 4), altchars=b"-_" if b"-" in text or b"_" in text else None))
    except (binascii.Error, orjson.JSONDecodeError, ValueError) as error:
        raise AdapterError("'data' is neither JSON nor base64-encoded JSON") from error


def event(item: Any) -> SdkEvent:
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        raise AdapterError("each event must be an object with an 'event' name")
    raw = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    fields = {k: v for k, v in raw.items() if not k.startswith(("$", "mp_"))
              and k not in ("token", "distinct_id", "time", "ip")}
    user = raw.get("distinct_id")
    device = raw.get("$device_id")
    return SdkEvent(item["event"], None if user is None else str(user), raw.get("$insert_id"),
                    parse_time(raw.get("time")), fields, None if device is None else str(device))


def parse(payload: Any) -> tuple[list[SdkEvent], str | None]:
    """Events of a decoded payload (one event or an array); the credential is the first event's ``token``."""
    items = payload if isinstance(payload, list) else [payload]
    events = [event(item) for item in items]
    token = None
    if items and isinstance(items[0], dict) and isinstance(items[0].get("properties"), dict):
        token = items[0]["properties"].get("token")
    return events, token


def answer(count: int) -> dict[str, Any]:
    """Mixpanel's verbose answer: ``{"status": 1, "error": null}``."""
    return {"status": 1, "error": None}
