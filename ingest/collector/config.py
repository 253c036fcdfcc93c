"""The collector's settings, passed to every serving process through the environment (uvicorn workers are
fresh processes that build the application from ``TELEMETRY_COLLECTOR_*`` variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from ..config import DATA_DIR_ENV, SCHEMAS_DIR, default_data_dir
from ..errors import ConfigError
from ..privacy.keys import IdentityHasher, Keyring
from .adapters.common import DEFAULT_SDK_FAMILY
from .tokens import TOKENS_FILE_ENV

PREFIX = "TELEMETRY_COLLECTOR_"


@dataclass
class CollectorConfig:
    """Everything a serving process needs.

    Attributes:
        data_dir: the data directory (spool, lake, marts).
        schemas_dir: the registry.
        tokens_file: the tokens file (digests, scopes, tiers).
        hash_key_file: a key file, else the keyring from the environment (as every command).
        demo_key: use the public demo key (demos and tests only).
        max_body_bytes: larger request bodies (after gzip decoding too) are refused with 413.
        token_rate: requests per second each token may make (token bucket); ``token_burst`` its bucket size.
        sdk_family: the family SDK events with an unknown name are shaped for (then quarantined).
        spool_max_bytes, spool_max_seconds: spool file rotation.
        land_every: seconds between landing rounds (0 = land only at shutdown).
        trusted_proxies: comma-separated networks (CIDR) of the proxies in front of the collector; only requests
            from them have their ``X-Forwarded-For`` read for the client's country.
    """

    data_dir: Path
    schemas_dir: Path = SCHEMAS_DIR
    tokens_file: Path | None = None
    hash_key_file: Path | None = None
    demo_key: bool = False
    max_body_bytes: int = 8 << 20
    token_rate: float = 2000.0
    token_burst: float = 4000.0
    sdk_family: str = DEFAULT_SDK_FAMILY
    spool_max_bytes: int = 8 << 20
    spool_max_seconds: float = 2.0
    land_every: float = 2.0
    trusted_proxies: str = ""

    def keyring(self) -> Keyring:
        if self.demo_key:
            return Keyring.single(IdentityHasher.demo())
        return Keyring.from_environment(self.hash_key_file)

    def to_environment(self) -> dict[str, str]:
        """The variables that make :meth:`from_environment` rebuild this configuration in a worker."""
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                out[PREFIX + item.name.upper()] = str(int(value)) if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def from_environment(cls) -> CollectorConfig:
        """Read ``TELEMETRY_COLLECTOR_*`` (and ``TELEMETRY_DATA_DIR`` / ``TELEMETRY_TOKENS_FILE`` as fallbacks).

        Raises:
            ConfigError: a value of the wrong type.
        """
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = os.environ.get(PREFIX + item.name.upper())
            if raw is None:
                continue
            kind = str(item.type)
            try:
                if "bool" in kind:
                    values[item.name] = raw.lower() in ("1", "true", "yes")
                elif "Path" in kind:
                    values[item.name] = Path(raw)
                elif kind == "int":
                    values[item.name] = int(raw)
                elif kind == "float":
                    values[item.name] = float(raw)
                else:
                    values[item.name] = raw
            except ValueError as error:
                raise ConfigError(f"{PREFIX + item.name.upper()}={raw!r}: {error}") from error
        values.setdefault("data_dir", Path(os.environ[DATA_DIR_ENV]) if DATA_DIR_ENV in os.environ else default_data_dir())
        if "tokens_file" not in values and os.environ.get(TOKENS_FILE_ENV):
            values["tokens_file"] = Path(os.environ[TOKENS_FILE_ENV])
        return cls(**values)  # type: ignore[arg-type]
