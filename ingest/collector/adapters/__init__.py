"""Transport adapters: each SDK's own wire format → registry wire events (docs/requirements/design.md#server-fills; docs/sdks.md).

An adapter only parses its SDK's payload into :class:`~.common.SdkEvent` values; :class:`~.common.WireMapper`
turns those into wire events of a registry family, so every SDK lands through the same registry and ingest.
"""

from .common import AdapterError, SdkEvent, WireMapper

__all__ = ["AdapterError", "SdkEvent", "WireMapper"]
