"""The HTTP/1.1 connection protocol ``telemetry serve`` runs uvicorn with: uvicorn's h11 protocol, answering what
h11 itself refuses with a JSON problem the client can read.

uvicorn answers a request h11 cannot parse with a plain 400 and closes the socket while the client may still be
sending; the unread bytes then make the kernel reset the connection, so the client sees a TCP reset instead of
the answer. Here a request head over :data:`MAX_HEADER_BYTES` is answered 431 (any other unparsable request
400), the sending side is shut, and what the client still sends is read and dropped (up to
:data:`DRAIN_BYTES`, for at most :data:`DRAIN_SECONDS`) before the connection closes.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson

from ..extras import missing

try:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ModuleNotFoundError as error:  # installed without the collector extra
    raise missing("collector", error.name or "uvicorn") from error

MAX_HEADER_BYTES = 64 << 10
"""Largest request line plus headers ``telemetry serve`` accepts (bytes; uvicorn's
``h11_max_incomplete_event_size``); larger heads are answered 431."""
DRAIN_BYTES = 16 << 20
DRAIN_SECONDS = 5.0


class CollectorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a 431 for oversized request heads and a drained close after a refusal."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._head_limit = config.h11_max_incomplete_event_size or h11.DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        self._draining = 0

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._draining += len(data)
            if self._draining > DRAIN_BYTES:
                self.transport.close()
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        if len(buffered) > self._head_limit:
            status, code = 431, "headers_too_large"
            message = f"the request line and headers are over {self._head_limit} bytes"
        else:
            status, code = 400, "bad_request"
            message = "the request is not valid HTTP/1.1"
        body = orjson.dumps({"ok": False, "error": {"code": code, "message": message}})
        head = h11.Response(status_code=status, reason=HTTPStatus(status).phrase.encode(), headers=[(b"content-type", b"application/json"),
                                                         (b"content-length", str(len(body)).encode()),
                                                         (b"connection", b"close")])
        try:
            self.transport.write(self.conn.send(head) + self.conn.send(h11.Data(data=body))
                                 + self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:  # a response was already under way: nothing more can be said
            self.transport.close()
            return
        self._draining = 1
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(DRAIN_SECONDS, self.transport.close)
