"""Keyed hashing of player and session identifiers (docs/requirements/design.md#privacy;
docs/requirements/ability.md#privacy, docs/requirements/gameplay.md#privacy, docs/requirements/recsys.md#privacy).

Ids are hashed with HMAC-SHA256 under a deployment secret that never lives in the repository: the
``TELEMETRY_HASH_KEY`` environment variable, or a key file (``--hash-key-file`` / ``TELEMETRY_HASH_KEY_FILE``).
Every landed row records the key id so keys can rotate.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..errors import ConfigError

DEMO_KEY = b"game-telemetry-demo-key--not-a-secret"
MIN_KEY_BYTES = 32
"""Shortest hash key accepted (HMAC-SHA256 keys shorter than its 32-byte output weaken it; a key shorter than
this is also easy to guess, and a guessed key turns every ``player_key`` back into a player id)."""
KEY_ADVICE = "use a random secret, e.g. `openssl rand -hex 32` (64 characters)"


def check_key_length(key: bytes, what: str) -> None:
    """Raise ConfigError when ``key`` is shorter than :data:`MIN_KEY_BYTES`, saying what length is safe."""
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"{what} is {len(key)} bytes; at least {MIN_KEY_BYTES} bytes are required: {KEY_ADVICE} "
                          "(--demo-key for a throwaway demo)")
DEMO_KEY_ID = "demo"


@dataclass(frozen=True)
class IdentityHasher:
    """HMAC-SHA256 of ids under one key.

    Attributes:
        key: secret bytes (the loaders require :data:`MIN_KEY_BYTES`); never shown in a repr.
        key_id: short public name of the key, stored on each row as ``hash_key_id``.
    """

    key: bytes = field(repr=False)
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
    def demo(cls) -> IdentityHasher:
        """The named, public demo key: for ``make demo`` only, never for real data."""
        return cls(DEMO_KEY, DEMO_KEY_ID)

    @classmethod
    def from_environment(cls, key_file: Path | None = None) -> IdentityHasher:
        """Key from ``key_file``, else ``TELEMETRY_HASH_KEY_FILE``, else ``TELEMETRY_HASH_KEY``.

        The key id is ``TELEMETRY_HASH_KEY_ID`` when set, else ``sha256:`` + 8 hex of the key's digest.

        Raises:
            ConfigError: no key configured, unreadable key file, or a key shorter than 32 bytes.
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
                f"of at least {MIN_KEY_BYTES} bytes ({KEY_ADVICE}); player ids are never landed unhashed. For a "
                "throwaway demo use --demo-key."
            )
        check_key_length(key, f"the hash key ({'file ' + str(key_file) if key_file is not None else 'TELEMETRY_HASH_KEY'})")
        key_id = os.environ.get("TELEMETRY_HASH_KEY_ID") or "sha256:" + hashlib.sha256(key).hexdigest()[:8]
        return cls(key, key_id)


EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True)
class Keyring:
    """The hash keys of a deployment over time: a base key, and rotations that take effect from a UTC date.

    An event is hashed with the key in effect on its event date (not the ingest date), so re-ingesting or
    replaying old events reproduces the keys they got the first time. Across a rotation boundary the same
    player has two different ``player_key`` values: joins by ``player_key`` across the boundary need the
    erasure/identity tooling, which hashes a raw id under every key (README, "Key rotation").

    Attributes:
        base: the key in effect before the first rotation.
        rotations: ``(effective_from, hasher)`` pairs sorted by date.
    """

    base: IdentityHasher
    rotations: tuple[tuple[date, IdentityHasher], ...] = ()
    sampling_secret: bytes | None = field(default=None, repr=False)
    """The keyring's own sampling secret (``"sampling_secret"`` / ``"sampling_secret_file"``), when given."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_days", [(d - EPOCH_DATE).days for d, _ in self.rotations])

    def sampling_key(self) -> bytes:
        """The secret that decides deterministic sampling (docs/requirements/gameplay.md#sampling): it does not rotate with the id keys.

        In order: the keyring's ``sampling_secret``, ``TELEMETRY_SAMPLING_KEY``, else a key derived from the base
        (oldest) id key, which appending rotations never changes; destroying the base key changes the cohorts,
        so deployments that rotate set an explicit sampling secret.
        """
        if self.sampling_secret:
            return self.sampling_secret
        if os.environ.get("TELEMETRY_SAMPLING_KEY"):
            return os.environ["TELEMETRY_SAMPLING_KEY"].encode("utf-8")
        return hmac.new(self.base.key, b"telemetry sampling secret v1", hashlib.sha256).digest()

    def by_id(self, key_id: str) -> IdentityHasher | None:
        """The key named ``key_id``, or None when this keyring does not hold it."""
        return next((h for h in self.all() if h.key_id == key_id), None)

    def for_day(self, day: int) -> IdentityHasher:
        """Key in effect on ``day`` (days since 1970-01-01)."""
        index = bisect.bisect_right(self._days, day)  # type: ignore[attr-defined]
        return self.base if index == 0 else self.rotations[index - 1][1]

    def all(self) -> list[IdentityHasher]:
        return [self.base, *(h for _, h in self.rotations)]

    @classmethod
    def single(cls, hasher: IdentityHasher) -> Keyring:
        return cls(hasher)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read a keyring file (kept outside the repository)::

            {"keys": [{"id": "k2025", "from": "1970-01-01", "secret_file": "/run/secrets/k2025"},
                      {"id": "k2026", "from": "2026-12-01", "secret": "…"}]}

        Raises:
            ConfigError: unreadable file, bad JSON, missing fields, a key under 32 bytes (a sampling secret
                under 16), duplicate ids.
        """
        try:
            entries = json.loads(Path(path).read_text(encoding="utf-8"))["keys"]
            keys = []
            for entry in entries:
                secret = (Path(entry["secret_file"]).read_bytes().strip() if "secret_file" in entry
                          else entry["secret"].encode("utf-8"))
                check_key_length(secret, f"keyring {path}: key {entry['id']}")
                keys.append((date.fromisoformat(entry["from"]), IdentityHasher(secret, entry["id"])))
        except ConfigError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"keyring {path} is unreadable: {error}") from error
        if not keys:
            raise ConfigError(f"keyring {path} holds no keys")
        if len({h.key_id for _, h in keys}) != len(keys):
            raise ConfigError(f"keyring {path}: key ids must be unique")
        keys.sort(key=lambda pair: pair[0])
        sampling = None
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            if "sampling_secret_file" in document:
                sampling = Path(document["sampling_secret_file"]).read_bytes().strip()
            elif "sampling_secret" in document:
                sampling = str(document["sampling_secret"]).encode("utf-8")
        except (OSError, ValueError) as error:
            raise ConfigError(f"keyring {path}: sampling secret unreadable: {type(error).__name__}") from None
        if sampling is not None and len(sampling) < 16:
            raise ConfigError(f"keyring {path}: the sampling secret is shorter than 16 bytes")
        return cls(keys[0][1], tuple(keys[1:]), sampling)

    @classmethod
    def from_environment(cls, key_file: Path | None = None) -> Keyring:
        """``TELEMETRY_HASH_KEYRING`` (a keyring file) when set, else the single key of
        :meth:`IdentityHasher.from_environment`.

        Raises:
            ConfigError: see :meth:`load` and :meth:`IdentityHasher.from_environment`.
        """
        if key_file is None and os.environ.get("TELEMETRY_HASH_KEYRING"):
            return cls.load(Path(os.environ["TELEMETRY_HASH_KEYRING"]))
        return cls(IdentityHasher.from_environment(key_file))
