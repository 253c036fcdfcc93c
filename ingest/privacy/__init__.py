"""Privacy: keyed hashing of player ids (keyring with rotation), erasure of one player."""

from .erasure import ErasureReport, erase_player
from .keys import DEMO_KEY, IdentityHasher, Keyring

__all__ = ["DEMO_KEY", "ErasureReport", "IdentityHasher", "Keyring", "erase_player"]
