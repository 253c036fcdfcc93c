"""Compaction: rewrite each partition's small Parquet files into files of a target size, per storage tier
(docs/requirements/recsys.md#partitioning: 128 MB to 1 GB files, automated small-file compaction;
docs/requirements/recsys.md#retention: hot/warm/cold tiers; the rules: :mod:`ingest.lake.storage`).

Every ingest batch adds one file to each partition it touches, so a busy partition collects many small files.
Compaction merges them, per partition, into ``compact-<level>-<digest>-0000.parquet`` files of at most the
tier's target size; files at or above half the target are left as they are. A batch's own file is level 0; a
merged file is one level above the highest level it merged. The tier comes from the partition's age
(``as_of − event_date``, UTC):

- **hot** (≤ 30 days): merged once ``min_small_files`` (8) small files of one level are there, to the target
  (256 MiB); counting per level keeps a partition that grows all day from rewriting its merged file at every
  ingest (each row is rewritten about once per level, not once per batch).
- **warm** (31–90 days): every small file (two or more) merged to the target (256 MiB).
- **cold** (over 90 days): every small file merged to the cold target (1 GiB). Retention removes partitions
  past each family's windows.

``telemetry ingest`` runs it after landing (:func:`ingest.pipeline.service.ingest_files`, unless
``--no-compact``); ``telemetry compact`` runs it by hand.

What stays true:

- **Readers see the old partition or the new one, never both or neither.** The new partition is built beside
  the old one (merged files written fresh, untouched files hard-linked) and the two folders are swapped with one
  atomic ``renameat2(RENAME_EXCHANGE)`` (Linux). Where the kernel lacks it, the merged file is renamed in and
  the merged-away files are removed right after (a reader may then briefly see both).
- **Exactly once.** Compaction holds the lake's maintenance lock exclusively, so no batch is writing while it
  runs; taking it publishes or removes what interrupted batches left pending (docs/lake.md, "Batch commit"),
  and a file under ``events/`` whose batch has no ledger row is never merged. Rows keep their ``batch_id``
  and every column, so deduplication, the ledger's counts, erasure and the dbt sources see the same rows.
- **Crash safety.** A killed run leaves only its staging folders under ``lake/_compaction/`` (outside the
  events tree, so no reader's glob sees them), removed by the next run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import write_parquet_atomic
from .layout import Lake
from .storage import DEFAULT_TARGET_BYTES, StoragePolicy, Tier, tier_days, tier_name
from ..registry.schema import Registry

__all__ = ["COMPACT_PREFIX", "DEFAULT_TARGET_BYTES", "CompactionReport", "PartitionPlan", "PartitionResult",
           "compact", "plan_partition"]

COMPACT_PREFIX = "compact-"
STAGING_FOLDER = "_compaction"
_RENAME_EXCHANGE = 2


@dataclass
class PartitionPlan:
    """What one compaction pass does to one partition.

    Attributes:
        path: the partition folder (``…/event_type=T/event_date=D``).
        tier: the partition's tier (``hot``, ``warm``, ``cold``) and so its target.
        groups: each group of small files becomes one file.
        kept: files left as they are (large enough, too few, alone, or of a batch without a ledger row).
    """

    path: Path
    tier: Tier
    groups: list[list[Path]] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    @property
    def files_before(self) -> int:
        return sum(len(g) for g in self.groups) + len(self.kept)

    @property
    def files_after(self) -> int:
        return len(self.groups) + len(self.kept)


@dataclass
class PartitionResult:
    """What compaction did (or would do) to one partition: its tier, files before and after, bytes rewritten."""

    path: Path
    tier: Tier
    files_before: int
    files_after: int
    bytes_rewritten: int = 0


@dataclass
class CompactionReport:
    """Per partition: tier, files before and after, and the bytes rewritten.

    Attributes:
        busy: the lake's maintenance lock was held by another process, so nothing was done (automatic runs
            after ingest do not wait; the next one catches up).
    """

    partitions: list[PartitionResult] = field(default_factory=list)
    dry_run: bool = False
    busy: bool = False

    @property
    def bytes_rewritten(self) -> int:
        return sum(p.bytes_rewritten for p in self.partitions)

    @property
    def files_before(self) -> int:
        return sum(p.files_before for p in self.partitions)

    @property
    def files_after(self) -> int:
        return sum(p.files_after for p in self.partitions)

    def summary(self) -> str:
        if self.busy:
            return "compaction skipped: another process holds the lake's maintenance lock"
        verb = "would compact" if self.dry_run else "compacted"
        return (f"{verb} {len(self.partitions)} partition(s): {self.files_before} file(s) → {self.files_after} "
                f"({self.bytes_rewritten / 1e6:.1f} MB rewritten)")


def _batch_of(path: Path) -> str:
    """``<batch_id>-<part>.parquet`` → ``batch_id``."""
    return path.stem.rsplit("-", 1)[0]


def level_of(path: Path) -> int:
    """Compaction level of a partition file: 0 for a batch's file, ``L`` for ``compact-L-<digest>-0000.parquet``
    (1 for a ``compact-<digest>-0000.parquet`` of earlier releases)."""
    parts = path.stem.split("-")
    if parts[0] != COMPACT_PREFIX.rstrip("-"):
        return 0
    return int(parts[1]) if len(parts) == 4 and parts[1].isdigit() else 1


def plan_partition(partition: Path, lake: Lake, tier: Tier) -> PartitionPlan:
    """Group a partition's small files (under half of ``tier.target_bytes``; in name order) into groups of at
    most the target: per compaction level once a level holds ``tier.min_small_files`` (hot), or all of them
    when there are that many (warm, cold). A group needs two files or more; files of batches without a ledger
    row are never grouped."""
    plan = PartitionPlan(partition, tier)
    small: dict[int, list[tuple[Path, int]]] = {}
    for path in sorted(partition.glob("*.parquet")):
        size = path.stat().st_size
        complete = level_of(path) > 0 or (lake.ledger / f"{_batch_of(path)}.parquet").exists()
        if not complete or size >= tier.target_bytes // 2:
            plan.kept.append(path)
        else:
            small.setdefault(level_of(path) if tier.per_level else 0, []).append((path, size))
    for files in small.values():
        if len(files) < tier.min_small_files:
            plan.kept += [path for path, _ in files]
            continue
        group: list[Path] = []
        total = 0
        for path, size in files:
            if group and total + size > tier.target_bytes:
                plan.groups.append(group)
                group, total = [], 0
            group.append(path)
            total += size
        plan.groups.append(group)
    plan.kept += [g[0] for g in plan.groups if len(g) == 1]
    plan.groups = [g for g in plan.groups if len(g) > 1]
    return plan


def _merge(files: list[Path], target: Path) -> None:
    """One Parquet file holding every row of ``files`` (columns unified by name; a column a file lacks is null),
    written with the raw layer's codec (:data:`ingest.lake.storage.CODECS`) whatever codec the inputs had."""
    tables = [pq.read_table(path) for path in files]
    merged = pa.concat_tables(tables, promote_options="default")
    write_parquet_atomic(merged, target)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False when unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system or kernel cannot exchange
            return False
        raise OSError(errno, os.strerror(errno), str(a))
    return True


def _compact_partition(plan: PartitionPlan, staging_root: Path) -> int:
    """Apply one plan; returns the bytes rewritten."""
    partition = plan.path
    rewritten = sum(p.stat().st_size for g in plan.groups for p in g)
    names = [f"{COMPACT_PREFIX}{1 + max(level_of(p) for p in g)}-"
             f"{hashlib.sha256(chr(10).join(p.name for p in g).encode()).hexdigest()[:16]}-0000.parquet"
             for g in plan.groups]
    staging = staging_root / f"{partition.parent.name}__{partition.name}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        for group, name in zip(plan.groups, names):
            _merge(group, staging / name)
        for path in plan.kept:
            os.link(path, staging / path.name)
        if _exchange(staging, partition):
            shutil.rmtree(staging)  # now holds the old files
            return rewritten
        # no atomic exchange: move the merged files in, then drop what they replace
        for name in names:
            os.replace(staging / name, partition / name)
        for group in plan.groups:
            for path in group:
                path.unlink()
        return rewritten
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _tier_windows(registry: Registry | None) -> dict[str, dict[str, int]]:
    """Lake event type → its family's tier windows (:func:`ingest.lake.storage.tier_days`)."""
    if registry is None:
        return {}
    return {lake_type: tier_days(registry.families[schema.family].retention_days)
            for lake_type, schema in registry.lake_types().items()}


def _plans(lake: Lake, event_types: list[str] | None, policy: StoragePolicy, as_of: date,
           windows: dict[str, dict[str, int]]) -> Iterator[PartitionPlan]:
    """The plan of every partition with something to merge, in folder order."""
    for type_dir in sorted(lake.events.glob("event_type=*")):
        lake_type = type_dir.name.split("=", 1)[1]
        if event_types is not None and lake_type not in event_types:
            continue
        for partition in sorted(type_dir.glob("event_date=*")):
            try:
                day = date.fromisoformat(partition.name.split("=", 1)[1])
            except ValueError:
                continue  # not a partition this lake writes
            plan = plan_partition(partition, lake, policy.tier(tier_name(day, as_of, windows.get(lake_type))))
            if plan.groups:
                yield plan


def compact(lake: Lake, *, event_types: list[str] | None = None, policy: StoragePolicy | None = None,
            as_of: date | None = None, registry: Registry | None = None, dry_run: bool = False,
            wait: bool = True) -> CompactionReport:
    """Compact every partition of ``event_types`` (all when None) as its tier asks (module doc).

    Args:
        lake: the lake.
        event_types: lake event types (``recsys_click``) to compact; None for all.
        policy: targets and the hot threshold (default :class:`~ingest.lake.storage.StoragePolicy`).
        as_of: the date partition ages are measured from (default: today, UTC).
        registry: where each family's tier windows come from (``retention_days`` ``hot``/``warm``/``cold``);
            None = the recsys seed's 30/90/400 days for every type.
        dry_run: plan only; change nothing.
        wait: wait for the maintenance lock; False = when another process holds it, do nothing and return a
            report with ``busy`` set (and look without the lock first, so a lake with nothing to merge is
            never locked).

    Returns:
        What was (or would be) done per partition.
    """
    policy = policy or StoragePolicy()
    as_of = as_of or datetime.now(timezone.utc).date()
    windows = _tier_windows(registry)
    report = CompactionReport(dry_run=dry_run)
    if not lake.events.exists():
        return report
    if not wait and next(_plans(lake, event_types, policy, as_of, windows), None) is None:
        return report
    staging_root = lake.root / STAGING_FOLDER
    with ExitStack() as stack:
        try:
            stack.enter_context(lake.maintenance_lock(wait=wait))
        except BlockingIOError:
            report.busy = True
            return report
        if not dry_run and staging_root.exists():
            shutil.rmtree(staging_root)  # what a killed run left: never read by anyone
        for plan in list(_plans(lake, event_types, policy, as_of, windows)):
            result = PartitionResult(plan.path, plan.tier, plan.files_before, plan.files_after)
            report.partitions.append(result)
            while plan.groups:  # a merge may fill the next level (hot): repeat until nothing is left to merge
                if dry_run:
                    result.bytes_rewritten += sum(p.stat().st_size for g in plan.groups for p in g)
                    break
                result.bytes_rewritten += _compact_partition(plan, staging_root)
                plan = plan_partition(plan.path, lake, plan.tier)
                result.files_after = plan.files_after
    return report
