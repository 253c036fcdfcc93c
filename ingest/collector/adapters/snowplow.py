"""Snowplow tracker protocol (``POST /com.snowplowanalytics.snowplow/tp2``, ``GET /i``): structured events
(``e=se``) and self-describing events (``e=ue``, ``ue_pr`` JSON or ``ue_px`` base64).

Mapping (docs/sdks.md): a structured event's action ``se_ac`` → event type and ``se_ca``/``se_la``/``se_pr``/
``se_va`` → ``category``/``label``/``property``/``value``; a self-describing event's schema name
(``iglu:com.acme/mission_start/jsonschema/1-0-0`` → ``mission_start``) → event type and its ``data`` → fields;
``uid`` (else ``duid``) → player id; ``duid`` → device id; ``eid`` → event id; ``dtm`` (else ``ttm``, epoch ms) →
event time. Page views and other kinds (``e=pv`` …) use the kind as name. Contexts, IP and user agent are dropped.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from .common import AdapterError, SdkEvent, parse_time

KINDS = {"pv": "page_view", "pp": "page_ping", "tr": "transaction", "ti": "transaction_item"}


def _self_describing(item: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "ue_pr" in item:
        text = item["ue_pr"].encode() if isinstance(item["ue_pr"], str) else b""
    elif "ue_px" in item:
        raw = item["ue_px"].encode() if isinstance(item["ue_px"], str) else b""
        try:
            text = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        except (binascii.Error, ValueError) as error:
            raise AdapterError("ue_px is not base64") from error
    else:
        raise AdapterError("a self-describing event needs ue_pr or ue_px")
    try:
        outer = orjson.loads(text)
        inner = outer["data"]
        schema, data = inner["schema"], inner.get("data", {})
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise AdapterError("the self-describing event is not {schema, data:{schema, data}}") from error
    if not isinstance(schema, str) or "/" not in schema:
        raise AdapterError("the self-describing event's schema is not an Iglu URI")
    parts = schema.removeprefix("iglu:").split("/")
    return parts[1] if len(parts) > 1 else parts[0], data if isinstance(data, dict) else {"value": data}


def event(item: Any) -> SdkEvent:
    if not isinstance(item, dict):
        raise AdapterError("each event must be an object of tracker fields")
    kind = item.get("e")
    if kind == "se":
        name = item.get("se_ac")
        if not isinstance(name, str) or not name:
            raise AdapterError("a structured event needs se_ac (action)")
        fields = {out: item[key] for key, out in (("se_ca", "category"), ("se_la", "label"),
                                                   ("se_pr", "property"), ("se_va", "value")) if key in item}
        if "value" in fields:
            try:
                fields["value"] = float(fields["value"])
            except (TypeError, ValueError):
                pass
    elif kind == "ue":
        name, fields = _self_describing(item)
    elif isinstance(kind, str) and kind:
        name, fields = KINDS.get(kind, kind), {}
    else:
        raise AdapterError("each event needs its kind 'e'")
    user = item.get("uid") or item.get("duid")
    device = item.get("duid")
    return SdkEvent(name, None if user is None else str(user), item.get("eid"),
                    parse_time(item.get("dtm") or item.get("ttm")), fields, None if device is None else str(device))


def parse(payload: Any) -> list[SdkEvent]:
    """Events of a ``payload_data`` body (``{"schema": …, "data": [events]}``) or of GET query fields."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return [event(item) for item in payload["data"]]
    if isinstance(payload, dict) and "e" in payload:
        return [event(payload)]
    raise AdapterError("expected Snowplow payload_data: {schema, data: [events]}")


PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""The 1×1 transparent GIF a Snowplow collector answers ``GET /i`` with."""
