"""Compaction: rewrite each partition's small Parquet files into files of a target size (docs/requirements/recsys.md#partitioning: 128 MB to
1 GB files, automated small-file compaction).

Every ingest batch adds one file to each partition it touches, so a busy partition collects many small files.
Compaction merges them, per partition, into ``compact-<digest>-0000.parquet`` files of at most the target size;
files already at or above half the target are left as they are.

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
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..lake.atomic import write_parquet_atomic
from ..lake.layout import Lake

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
"""docs/requirements/recsys.md#partitioning: files of 128 MB to 1 GB."""
COMPACT_PREFIX = "compact-"
STAGING_FOLDER = "_compaction"
_RENAME_EXCHANGE = 2


@dataclass
class PartitionPlan:
    """What compaction does to one partition.

    Attributes:
        path: the partition folder (``…/event_type=T/event_date=D``).
        groups: each group of small files becomes one file.
        kept: files left as they are (large enough, alone, or of a batch without a ledger row).
    """

    path: Path
    groups: list[list[Path]] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)

    @property
    def files_before(self) -> int:
        return sum(len(g) for g in self.groups) + len(self.kept)

    @property
    def files_after(self) -> int:
        return len(self.groups) + len(self.kept)


@dataclass
class CompactionReport:
    """Per partition: files before and after, and the bytes rewritten."""

    partitions: list[PartitionPlan] = field(default_factory=list)
    bytes_rewritten: int = 0
    dry_run: bool = False

    @property
    def files_before(self) -> int:
        return sum(p.files_before for p in self.partitions)

    @property
    def files_after(self) -> int:
        return sum(p.files_after for p in self.partitions)

    def summary(self) -> str:
        verb = "would compact" if self.dry_run else "compacted"
        return (f"{verb} {len(self.partitions)} partition(s): {self.files_before} file(s) → {self.files_after} "
                f"({self.bytes_rewritten / 1e6:.1f} MB rewritten)")


def _batch_of(path: Path) -> str:
    """``<batch_id>-<part>.parquet`` → ``batch_id``."""
    return path.stem.rsplit("-", 1)[0]


def plan_partition(partition: Path, lake: Lake, target_bytes: int = DEFAULT_TARGET_BYTES) -> PartitionPlan:
    """Group a partition's small files (in name order) into groups of at most ``target_bytes``.

    A group needs two files or more; files of batches without a ledger row are never grouped.
    """
    plan = PartitionPlan(partition)
    candidates: list[Path] = []
    for path in sorted(partition.glob("*.parquet")):
        batch = _batch_of(path)
        complete = batch.startswith(COMPACT_PREFIX.rstrip("-")) or lake.ledger_entry(batch) is not None
        if not complete or path.stat().st_size >= target_bytes // 2:
            plan.kept.append(path)
        else:
            candidates.append(path)
    group: list[Path] = []
    size = 0
    for path in candidates:
        file_size = path.stat().st_size
        if group and size + file_size > target_bytes:
            plan.groups.append(group)
            group, size = [], 0
        group.append(path)
        size += file_size
    if group:
        plan.groups.append(group)
    plan.kept += [g[0] for g in plan.groups if len(g) == 1]
    plan.groups = [g for g in plan.groups if len(g) > 1]
    return plan


def _merge(files: list[Path], target: Path) -> None:
    """One Parquet file holding every row of ``files`` (columns unified by name; a column a file lacks is null)."""
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
    names = [(COMPACT_PREFIX + hashlib.sha256("\n".join(p.name for p in g).encode()).hexdigest()[:16]
              + "-0000.parquet") for g in plan.groups]
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




def compact(lake: Lake, *, event_types: list[str] | None = None, target_bytes: int = DEFAULT_TARGET_BYTES,
            dry_run: bool = False) -> CompactionReport:
    """Compact every partition of ``event_types`` (all when None) that has two or more small files.

    Args:
        lake: the lake.
        event_types: lake event types (``recsys_click``) to compact; None for all.
        target_bytes: largest file compaction writes (small files are those under half of it).
        dry_run: plan only; change nothing.

    Returns:
        What was (or would be) done per partition.
    """
    report = CompactionReport(dry_run=dry_run)
    if not lake.events.exists():
        return report
    staging_root = lake.root / STAGING_FOLDER
    with lake.maintenance_lock():
        if not dry_run and staging_root.exists():
            shutil.rmtree(staging_root)  # what a killed run left: never read by anyone
        for type_dir in sorted(lake.events.glob("event_type=*")):
            if event_types is not None and type_dir.name.split("=", 1)[1] not in event_types:
                continue
            for partition in sorted(type_dir.glob("event_date=*")):
                plan = plan_partition(partition, lake, target_bytes)
                if not plan.groups:
                    continue
                report.partitions.append(plan)
                if dry_run:
                    report.bytes_rewritten += sum(p.stat().st_size for g in plan.groups for p in g)
                else:
                    report.bytes_rewritten += _compact_partition(plan, staging_root)
    return report
