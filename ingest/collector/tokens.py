"""API tokens for the collector (docs/requirements/design.md#collector; docs/requirements/recsys.md#privacy access tiers).

Tokens live in a JSON file outside the repository (``TELEMETRY_TOKENS_FILE``), stored only as SHA-256 digests:
``{"tokens": [{"name": "game-client", "sha256": "…", "scopes": ["ingest"], "tier": "viewer",
"company": null, "created_at": "…"}]}``. A presented token is hashed and compared with every stored digest in
constant time. Scopes: ``ingest`` (send events) and ``read`` (the read API). Tiers (docs/requirements/recsys.md#privacy) decide what read
answers show of each identifier and which identifier filters a token may use (``read_api.TIER_VIEWS``,
``read_api.TIER_FILTERS``, ``docs/read-api.md``): ``engineer`` sees every column, ``analyst`` player keys and
hashed company ids but no session or lineage columns, ``viewer`` no player, session or company identifier. A token
bound to a company sees only that company's rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError, TokensFileError

TOKENS_FILE_ENV = "TELEMETRY_TOKENS_FILE"
SCOPES = ("ingest", "read")
TIERS = ("engineer", "analyst", "viewer")
TOKEN_PREFIX = "tlm_"


def digest(token: str) -> str:
    """Hex SHA-256 of a token (what the file stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Token:
    """One stored token (never the secret itself).

    Attributes:
        name: who or what it is for.
        sha256: hex digest of the secret.
        scopes: subset of :data:`SCOPES`.
        tier: one of :data:`TIERS` (column masking in read responses).
        company: companyId the token is bound to, or None for every company.
    """

    name: str
    sha256: str = field(repr=False)
    scopes: tuple[str, ...]
    tier: str = "viewer"
    company: str | None = None
    created_at: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def to_json(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "scopes": list(self.scopes), "tier": self.tier,
                "company": self.company, "created_at": self.created_at}


def tokens_file(path: Path | str | None = None) -> Path:
    """The tokens file: ``path``, else ``$TELEMETRY_TOKENS_FILE``.

    Raises:
        ConfigError: neither is given.
    """
    value = path or os.environ.get(TOKENS_FILE_ENV)
    if not value:
        raise ConfigError(f"no tokens file: set {TOKENS_FILE_ENV} or pass --tokens-file "
                          "(create tokens with `telemetry tokens create NAME --scope ingest`)")
    return Path(value)


@dataclass
class TokenStore:
    """The tokens of one file, for lookups by presented secret."""

    path: Path
    tokens: list[Token]

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> TokenStore:
        """Read the file.

        Raises:
            TokensFileError: unreadable or malformed (or missing, unless ``missing_ok``).
        """
        path = Path(path)
        if not path.exists():
            if missing_ok:
                return cls(path, [])
            raise TokensFileError(str(path), "does not exist (create one with `telemetry tokens create`)")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            tokens = [Token(t["name"], t["sha256"], tuple(t["scopes"]), t.get("tier", "viewer"), t.get("company"),
                            t.get("created_at")) for t in document["tokens"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TokensFileError(str(path), f"unreadable: {error}") from error
        for token in tokens:
            if set(token.scopes) - set(SCOPES) or token.tier not in TIERS or len(token.sha256) != 64:
                raise TokensFileError(str(path), f"token {token.name!r}: bad scopes, tier or digest")
        return cls(path, tokens)

    def find(self, presented: str | None) -> Token | None:
        """The token whose digest matches ``presented``, compared in constant time against every entry."""
        if not presented:
            return None
        wanted = digest(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.sha256, wanted):
                found = token
        return found

    def create(self, name: str, scopes: tuple[str, ...], tier: str = "viewer",
               company: str | None = None) -> str:
        """Add a token and write the file atomically (mode 0600). Returns the secret, which is not stored.

        Raises:
            ConfigError: bad name, scope or tier, or the name is taken.
        """
        if not name or any(t.name == name for t in self.tokens):
            raise ConfigError(f"token name {name!r} is empty or already used in {self.path}")
        bad = set(scopes) - set(SCOPES)
        if not scopes or bad:
            raise ConfigError(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}")
        if tier not in TIERS:
            raise ConfigError(f"tier must be one of {', '.join(TIERS)}; got {tier!r}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.tokens.append(Token(name, digest(secret), tuple(dict.fromkeys(scopes)), tier, company, created))
        self.save()
        return secret

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"tokens": [t.to_json() for t in self.tokens]}, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
