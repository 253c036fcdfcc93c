"""Storage rules of the lake (docs/requirements/recsys.md#partitioning, docs/requirements/recsys.md#retention):
the Parquet codec of each layer, the file sizes compaction aims at, and the hot/warm/cold tiers.

- **Codec per layer** (:data:`CODECS`): the raw lake (event partitions, quarantine, and the lake's own small
  files: ledger, schema sentinels, session closes) is Snappy; published rollups and marts are Gzip — the
  seed's "Snappy for raw events, Gzip for rollups". Every Parquet writer takes its codec from here
  (:func:`ingest.lake.atomic.write_parquet_atomic`, :mod:`ingest.warehouse.publish`). Readers do not care
  which codec a file has, so a lake written earlier with another codec still reads.
- **File sizes**: compaction writes files of at most a target between :data:`MIN_FILE_BYTES` (128 MiB) and
  :data:`MAX_FILE_BYTES` (1 GiB); files under half the target count as small.
- **Tiers** by partition age (days from the partition's ``event_date`` to the as-of date, UTC): hot (≤ 30),
  warm (31–90), cold (over 90; retention removes what is past each family's own windows). A family that
  declares ``hot``/``warm``/``cold`` days in its manifest's ``retention_days`` uses those (ability);
  the others use the recsys seed's 30/90/400. What each tier means for compaction: :meth:`StoragePolicy.tier`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Layer = Literal["raw", "rollup"]
CODECS: dict[str, str] = {"raw": "snappy", "rollup": "gzip"}
"""Parquet codec per layer (docs/requirements/recsys.md#partitioning: Snappy for raw events, Gzip for rollups).
``raw``: everything under ``<data-dir>/lake``; ``rollup``: the published marts under ``<data-dir>/marts``."""

MIB = 1024 * 1024
MIN_FILE_BYTES = 128 * MIB
"""docs/requirements/recsys.md#partitioning: 128 MB–1 GB files; the smallest target compaction accepts."""
MAX_FILE_BYTES = 1024 * MIB
"""The largest target compaction accepts (and the cold tier's default)."""
DEFAULT_TARGET_BYTES = 256 * MIB
"""Hot and warm target: merged files of at most 256 MiB, and (files under half the target being small) over
128 MiB unless the partition holds less — so the output falls inside the 128 MB–1 GB of the recsys requirements."""
DEFAULT_MIN_SMALL_FILES = 8
"""Hot tier: a partition is compacted after ingest once it holds this many small files of one compaction level."""
TIER_DAYS = {"hot": 30, "warm": 90, "cold": 400}
"""docs/requirements/recsys.md#retention storage tiers Hot (30d), Warm (90d), Cold (400d): the oldest age, in
days, of each tier (the default of every family that declares none)."""
TIERS = ("hot", "warm", "cold")


@dataclass(frozen=True)
class Tier:
    """What compaction does to a partition of one tier.

    Attributes:
        name: ``hot``, ``warm`` or ``cold``.
        target_bytes: the largest file compaction writes; files under half of it are small.
        min_small_files: the fewest small files that make compaction merge them.
        per_level: count (and merge) small files per compaction level (hot: what has just been merged is not
            rewritten at every ingest), or all of them together (warm, cold: one pass to the target size).

    Merged files are written with the raw layer's codec (Snappy) in every tier.
    """

    name: str
    target_bytes: int
    min_small_files: int
    per_level: bool


@dataclass(frozen=True)
class StoragePolicy:
    """Compaction targets per tier and the hot tier's small-file threshold.

    Args:
        target_bytes: hot and warm target, 128 MiB–1 GiB.
        cold_target_bytes: cold target, 128 MiB–1 GiB, at least ``target_bytes``.
        min_small_files: hot tier threshold (≥ 2).

    Raises:
        ValueError: a target outside 128 MiB–1 GiB, or a threshold under 2.
    """

    target_bytes: int = DEFAULT_TARGET_BYTES
    cold_target_bytes: int = MAX_FILE_BYTES
    min_small_files: int = DEFAULT_MIN_SMALL_FILES

    def __post_init__(self) -> None:
        for name in ("target_bytes", "cold_target_bytes"):
            value = getattr(self, name)
            if not MIN_FILE_BYTES <= value <= MAX_FILE_BYTES:
                raise ValueError(f"{name} {value / MIB:g} MiB is outside 128 MiB–1024 MiB "
                                 "(docs/requirements/recsys.md#partitioning)")
        if self.cold_target_bytes < self.target_bytes:
            raise ValueError("cold_target_bytes must be at least target_bytes")
        if self.min_small_files < 2:
            raise ValueError("min_small_files must be at least 2")

    def tier(self, name: str) -> Tier:
        """The treatment of tier ``name``: hot merges per level once ``min_small_files`` small files of one
        level are there, to ``target_bytes``; warm merges every small file (two or more) to ``target_bytes``;
        cold merges every small file to ``cold_target_bytes``."""
        if name == "hot":
            return Tier("hot", self.target_bytes, self.min_small_files, per_level=True)
        if name == "warm":
            return Tier("warm", self.target_bytes, 2, per_level=False)
        if name == "cold":
            return Tier("cold", self.cold_target_bytes, 2, per_level=False)
        raise ValueError(f"{name!r} is not a tier ({', '.join(TIERS)})")


DEFAULT_POLICY = StoragePolicy()
"""256 MiB hot and warm, 1 GiB cold, 8 small files in the hot tier."""


def tier_days(retention_days: dict | None) -> dict[str, int]:
    """A family's tier windows: its manifest's ``retention_days`` ``hot``/``warm``/``cold`` where declared,
    else :data:`TIER_DAYS`."""
    declared = retention_days or {}
    return {name: int(declared.get(name, days)) for name, days in TIER_DAYS.items()}


def tier_name(event_date: date, as_of: date, days: dict[str, int] | None = None) -> str:
    """``hot`` when ``as_of − event_date`` ≤ the hot window (30 days), ``warm`` up to the warm window (90),
    else ``cold`` (a partition past the cold window is retention's to remove; until then it is cold).
    A future ``event_date`` is hot."""
    windows = days or TIER_DAYS
    age = (as_of - event_date).days
    if age <= windows["hot"]:
        return "hot"
    if age <= windows["warm"]:
        return "warm"
    return "cold"
