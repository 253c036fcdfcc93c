"""Opted-out players (docs/requirements/gameplay.md): their events are dropped by policy and counted, never landed.

The list is ``<data_dir>/privacy/opt_out.txt``: one raw player id per line, ``#`` comments and blank lines
ignored. Ids are hashed under every key of the keyring, so the list holds across key rotations.
"""

from __future__ import annotations

from pathlib import Path

from .keys import Keyring

OPT_OUT_FILE = Path("privacy") / "opt_out.txt"


def opted_out_keys(data_dir: Path, keyring: Keyring) -> frozenset[str]:
    """Player keys (under every key of ``keyring``) of the raw ids listed in ``<data_dir>/privacy/opt_out.txt``;
    empty when the file does not exist."""
    path = Path(data_dir) / OPT_OUT_FILE
    if not path.exists():
        return frozenset()
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return frozenset(h.hash(i) for i in ids if i and not i.startswith("#") for h in keyring.all())
