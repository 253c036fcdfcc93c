"""The collector's load and what follows from it (docs/collector.md "Load"): circuit breakers over the spool lag
that double the rate of adaptive (heartbeat) types (docs/requirements/gameplay.md#sampling) and degrade optional
metrics first (docs/requirements/ability.md#registry),
and the country of a client's address (docs/requirements/gameplay.md#privacy: region from the IP, the IP dropped).

The settings are the ``load``, ``adaptive`` and ``backpressure`` sections of ``schemas/sampling.yml``
(:class:`~ingest.registry.sampling.LoadPolicy`), re-read when the file changes.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from collections.abc import Callable

log = logging.getLogger("telemetry.collector")


@dataclass
class Breaker:
    """A circuit breaker over a load share: it trips once the share has stayed above ``above`` for
    ``for_seconds`` and resets once it has stayed at or below ``above`` as long.

    Times are monotonic seconds. A ``for_seconds`` of 0 follows the share at once.
    """

    above: float
    for_seconds: float
    tripped: bool = False
    _since: float | None = field(default=None, repr=False)
    """When the share first stood on the other side of ``above`` than :attr:`tripped` says (None: it does not)."""

    def update(self, share: float, now: float) -> bool:
        """Feed one reading; return whether the breaker is tripped."""
        if (share > self.above) == self.tripped:
            self._since = None
            return self.tripped
        if self._since is None:
            self._since = now
        if now - self._since >= self.for_seconds:
            self.tripped, self._since = not self.tripped, None
        return self.tripped


@dataclass
class LoadState:
    """What the collector's load decides at one moment."""

    lag: int
    share: float
    adaptive_factor: float
    optional_factor: float | None
    """The share of summaries that keep their optional metrics, while backpressure holds; else None."""


class ClientCountry:
    """The ISO 3166-1 alpha-2 country of a client's address, from the offline database of the ``iptocc`` package
    (Regional Internet Registry allocations). Only the country is returned; the address is never kept.

    Args:
        trusted_proxies: networks (CIDR) of the proxies in front of the collector: only a request from one of
            them has its ``X-Forwarded-For`` read (the right-most address that is not a trusted proxy).
    """

    def __init__(self, trusted_proxies: str | tuple[str, ...] = ()):
        if isinstance(trusted_proxies, str):
            trusted_proxies = tuple(p.strip() for p in trusted_proxies.split(",") if p.strip())
        self.proxies = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        try:
            from iptocc import country_code
        except ImportError:  # pragma: no cover - part of the collector extra
            log.warning("iptocc is not installed: no country is derived from client addresses")
            country_code = None
        self._lookup: Callable[[str], str | None] | None = country_code

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: the peer, or — when the peer is a trusted proxy — the right-most
        ``X-Forwarded-For`` entry that is not a trusted proxy."""
        if peer and forwarded_for and self.proxies and self._trusted(peer):
            for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
                if not self._trusted(hop):
                    return hop
        return peer

    def country(self, peer: str | None, forwarded_for: str | None = None) -> str | None:
        """The country of the client (None for private, reserved or unknown addresses, or without a database)."""
        address = self.client_address(peer, forwarded_for)
        if not address or self._lookup is None:
            return None
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return None
        return self._lookup(address)
