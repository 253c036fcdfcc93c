"""Encryption at rest of quarantined lines (docs/requirements/design.md#privacy-at-rest): no personal value in clear
under the data directory.

A quarantined line and its full error messages (which may quote values) are sealed with AES-256-GCM under a key
derived (HKDF-SHA256) from the hash key in effect on the line's arrival date; the row stores that key's id
(``raw_key_id``). Whoever holds the keyring can open the line again (``telemetry quarantine show``, replay,
erasure); destroying a key makes its quarantined lines unreadable, as it makes its hashes unlinkable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ConfigError
from .keys import IdentityHasher, Keyring

NONCE_BYTES = 12
INFO = b"telemetry quarantine at rest v1"


class QuarantineKeyError(ConfigError):
    """A sealed quarantine value cannot be opened: its key is not in this keyring, or the value was altered."""


def _derive(hasher: IdentityHasher) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + hasher.key_id.encode()).derive(hasher.key)
    return AESGCM(key)


@dataclass
class QuarantineCipher:
    """Seals and opens quarantine values with keys derived from a keyring (no key material in its repr)."""

    keyring: Keyring = field(repr=False)
    _ciphers: dict = field(default_factory=dict, repr=False)

    def _cipher(self, hasher: IdentityHasher) -> AESGCM:
        found = self._ciphers.get(hasher.key_id)
        if found is None:
            found = self._ciphers[hasher.key_id] = _derive(hasher)
        return found

    def seal(self, plaintext: bytes, day: int, context: bytes = b"") -> tuple[str, bytes]:
        """``(key id, nonce + ciphertext)`` of ``plaintext`` under the key in effect on ``day`` (days since
        1970-01-01); ``context`` is authenticated, not stored (e.g. which column the value belongs to)."""
        hasher = self.keyring.for_day(day)
        nonce = os.urandom(NONCE_BYTES)
        return hasher.key_id, nonce + self._cipher(hasher).encrypt(nonce, plaintext, context)

    def open(self, key_id: str, sealed: bytes, context: bytes = b"") -> bytes:
        """The plaintext of a sealed value.

        Raises:
            QuarantineKeyError: ``key_id`` is not in the keyring, or the value does not authenticate.
        """
        hasher = self.keyring.by_id(key_id)
        if hasher is None:
            raise QuarantineKeyError(f"quarantined line sealed with key {key_id!r}, which this keyring does not hold")
        try:
            return self._cipher(hasher).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)
        except InvalidTag:
            raise QuarantineKeyError(f"quarantined line does not open with key {key_id!r} of this keyring "
                                     "(a different secret under the same id, or altered data)") from None


def open_raw(cipher: QuarantineCipher, row: dict) -> bytes:
    """The original line of a quarantine row (rows written before sealing hold it in clear, ``raw_key_id`` null).

    Raises:
        QuarantineKeyError: the row's key is not in the keyring.
    """
    if row.get("raw_key_id") is None:
        return row["raw_bytes"]
    return cipher.open(row["raw_key_id"], row["raw_bytes"], b"raw_bytes")


def open_messages(cipher: QuarantineCipher, row: dict) -> list[str]:
    """The full error messages of a quarantine row (the clear ``errors[].message`` are redacted)."""
    import orjson

    if row.get("errors_sealed") is None or row.get("raw_key_id") is None:
        return [e["message"] for e in row["errors"] or []]
    return orjson.loads(cipher.open(row["raw_key_id"], row["errors_sealed"], b"errors"))
