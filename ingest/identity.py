"""Keyed hashing of player and session identifiers (DESIGN §6; seeds 001 §10, 002, 003 PII policy).

Ids are hashed with HMAC-SHA256 under a deployment secret that never lives in the repository: the
``TELEMETRY_HASH_KEY`` environment variable, or a key file (``--hash-key-file`` / ``TELEMETRY_HASH_KEY_FILE``).
Every landed row records the key id so keys can rotate.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

DEMO_KEY = b"game-telemetry-demo-key--not-a-secret"
DEMO_KEY_ID = "demo"


@dataclass(frozen=True)
class IdentityHasher:
    """HMAC-SHA256 of ids under one key.

    Attributes:
        key: secret bytes (at least 16).
        key_id: short public name of the key, stored on each row as ``hash_key_id``.
    """

    key: bytes
    key_id: str
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def hash(self, value: object) -> str:
        """64 lowercase hex characters; ints and strings hash alike (``42`` == ``"42"``).

        Results are memoised (players repeat); the memo is cleared past 1M entries to bound memory.
        """
        text = str(value)
        found = self._cache.get(text)
        if found is None:
            if len(self._cache) >= 1_000_000:
                self._cache.clear()
            found = self._cache[text] = hmac.new(self.key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return found

    @classmethod
    def demo(cls) -> "IdentityHasher":
        """The named, public demo key: for ``make demo`` only, never for real data."""
        return cls(DEMO_KEY, DEMO_KEY_ID)

    @classmethod
    def from_environment(cls, key_file: Path | None = None) -> "IdentityHasher":
        """Key from ``key_file``, else ``TELEMETRY_HASH_KEY_FILE``, else ``TELEMETRY_HASH_KEY``.

        The key id is ``TELEMETRY_HASH_KEY_ID`` when set, else ``sha256:`` + 8 hex of the key's digest.

        Raises:
            ConfigError: no key configured, unreadable key file, or a key shorter than 16 bytes.
        """
        key_file = key_file or (Path(os.environ["TELEMETRY_HASH_KEY_FILE"]) if os.environ.get("TELEMETRY_HASH_KEY_FILE") else None)
        if key_file is not None:
            try:
                key = Path(key_file).read_bytes().strip()
            except OSError as error:
                raise ConfigError(f"cannot read hash key file {key_file}: {error.strerror}") from error
        elif os.environ.get("TELEMETRY_HASH_KEY"):
            key = os.environ["TELEMETRY_HASH_KEY"].encode("utf-8")
        else:
            raise ConfigError(
                "no hash key: set TELEMETRY_HASH_KEY (or TELEMETRY_HASH_KEY_FILE / --hash-key-file) to a secret "
                "of at least 16 bytes; player ids are never landed unhashed. For a throwaway demo use --demo-key."
            )
        if len(key) < 16:
            raise ConfigError("hash key must be at least 16 bytes long")
        key_id = os.environ.get("TELEMETRY_HASH_KEY_ID") or "sha256:" + hashlib.sha256(key).hexdigest()[:8]
        return cls(key, key_id)
