"""HTTP plumbing shared by every route: problems as JSON, bounded body reading, credentials, per-token limits."""

from __future__ import annotations

import base64
import binascii
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .tokens import Token, TokenStore


class HttpProblem(Exception):
    """An answer other than success: status, a stable code and a message (never a traceback).

    Body: ``{"ok": false, "error": {"code": …, "message": …, …details}}``.
    """

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 **details: Any):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details

    def response(self) -> Response:
        return json_response({"ok": False, "error": {"code": self.code, "message": self.message, **self.details}},
                             self.status, self.headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status, headers,
                    media_type="application/json")


JSON_MEDIA_TYPES = frozenset({"application/json", "application/x-ndjson", "application/jsonl",
                              "application/x-jsonlines", "text/plain"})
"""Content types a JSON route reads: JSON, JSON lines, and ``text/plain`` (what browser SDKs send with
``sendBeacon``); any ``+json`` type too, and a request without a ``Content-Type``."""
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def check_content_type(request: Request, accepted: frozenset[str] = JSON_MEDIA_TYPES) -> None:
    """Refuse a body whose declared ``Content-Type`` the route does not read (its parameters, such as
    ``charset``, are ignored).

    Raises:
        HttpProblem: 415 naming the types the route accepts.
    """
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    if media in accepted or media.endswith("+json"):
        return
    hint = " (curl sends that for -d: add -H 'Content-Type: application/json')" if media == FORM_MEDIA_TYPE else ""
    raise HttpProblem(415, "unsupported_media_type",
                      f"Content-Type {media or declared!r} is not read here{hint}; send one of "
                      f"{', '.join(sorted(accepted))}", accepted=sorted(accepted))


async def read_body(request: Request, limit: int, accepted: frozenset[str] = JSON_MEDIA_TYPES) -> bytes:
    """The request body, gunzipped when sent with ``Content-Encoding: gzip`` (or gzip magic bytes).

    Raises:
        HttpProblem: 415 a ``Content-Type`` outside ``accepted``; 413 over ``limit`` bytes (compressed or
            decoded); 400 for a corrupt gzip stream.
    """
    check_content_type(request, accepted)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpProblem(413, "body_too_large", f"the body is {declared} bytes; at most {limit} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpProblem(413, "body_too_large", f"the body is over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
    if "gzip" in encoding or body[:2] == b"\x1f\x8b":
        body = gunzip(body, limit)
    return body


def gunzip(body: bytes, limit: int) -> bytes:
    """Inflate every member of a gzip stream (``cat a.gz b.gz`` is one valid gzip body), never holding more than
    ``limit + 1`` decoded bytes: a gzip bomb is refused as soon as the decoded size passes the limit.

    Raises:
        HttpProblem: 413 when the decoded body is over ``limit`` bytes, 400 for a corrupt or truncated stream.
    """
    out: list[bytes] = []
    size, rest = 0, body
    while True:
        decoder = zlib.decompressobj(wbits=31)
        try:
            piece = decoder.decompress(rest, limit + 1 - size)
        except zlib.error as error:
            raise HttpProblem(400, "corrupt_gzip", f"the gzip body is corrupt: {error}") from None
        size += len(piece)
        if size > limit or decoder.unconsumed_tail:
            raise HttpProblem(413, "body_too_large", f"the decoded body is over {limit} bytes")
        out.append(piece)
        if not decoder.eof:
            raise HttpProblem(400, "corrupt_gzip", "the gzip body is truncated")
        rest = decoder.unused_data
        if not rest.strip(b"\0"):  # trailing zero padding (tape-style) ends the stream, as in gzip(1)
            return b"".join(out)
        if rest[:2] != b"\x1f\x8b":
            raise HttpProblem(400, "corrupt_gzip", "the gzip body has trailing bytes that are not a gzip member")


def parse_json(body: bytes) -> Any:
    """Parse a JSON body. Raises HttpProblem 400 with the parser's reason."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HttpProblem(400, "invalid_json", f"the body is not JSON: {error}") from None


def dump_json(value: Any) -> bytes:
    """One spool line for a parsed event (compact JSON).

    Raises:
        HttpProblem: 400 ``too_deep`` when the value nests arrays/objects deeper than JSON is kept (254 levels;
            the parser reads up to 1,024, so such a body parses but could not be stored).
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        raise HttpProblem(400, "too_deep", f"the JSON cannot be stored: {error} (arrays/objects nest at most "
                          "254 levels deep)") from None


def header_credential(request: Request) -> str | None:
    """``Authorization: Bearer <token>``, or HTTP basic auth (the user name, else the password: Segment and
    RudderStack send their write key as the user name)."""
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        return rest or None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(rest, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return user or password or None
    return None


@dataclass
class TokenBuckets:
    """Per-token request rate limits: ``rate`` requests per second with bursts of ``burst``."""

    rate: float
    burst: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, name: str) -> float:
        """Take one request for ``name``: 0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[name] = (tokens - 1, now)
                return 0.0
            self._state[name] = (tokens, now)
            return (1 - tokens) / self.rate


class Auth:
    """Checks credentials against the tokens file (re-read when it changes) and the per-token rate limit."""

    def __init__(self, store: TokenStore, buckets: TokenBuckets):
        self.store = store
        self.buckets = buckets
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> float:
        try:
            return self.store.path.stat().st_mtime
        except OSError:
            return 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        mtime = self._stat()
        if mtime != self._mtime:
            self._mtime = mtime
            self.store = TokenStore.load(self.store.path, missing_ok=True)

    def check(self, request: Request, scope: str, body_credential: Any = None) -> Token:
        """The caller's token, allowed ``scope`` and within its rate.

        Raises:
            HttpProblem: 401 no or unknown token, 403 scope missing, 429 over the token's rate.
        """
        self._refresh()
        presented = header_credential(request) or (body_credential if isinstance(body_credential, str) else None)
        if not presented:
            raise HttpProblem(401, "unauthorized", "a token is required: Authorization: Bearer <token>",
                              headers={"WWW-Authenticate": "Bearer"})
        token = self.store.find(presented)
        if token is None:
            raise HttpProblem(401, "unauthorized", "unknown token", headers={"WWW-Authenticate": "Bearer"})
        if not token.allows(scope):
            raise HttpProblem(403, "forbidden", f"this token lacks the {scope!r} scope")
        wait = self.buckets.take(token.name)
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            raise HttpProblem(429, "rate_limited", "too many requests for this token",
                              headers={"Retry-After": str(seconds)}, retry_after=seconds)
        return token
