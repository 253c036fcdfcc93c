"""Privacy: keyed hashing of player ids (keyring with rotation), the opt-out list, erasure in the lake."""

from .erasure import ErasureReport, erase_player
from .keys import DEMO_KEY, IdentityHasher, Keyring
from .opt_out import opted_out_keys

__all__ = ["DEMO_KEY", "ErasureReport", "IdentityHasher", "Keyring", "erase_player", "opted_out_keys"]
