"""Erasure of one player (docs/requirements/design.md#privacy): remove their rows from every lake partition and the quarantine.

Only files that hold the player are rewritten (atomically). The raw id is hashed under every key of the
keyring, so rows from before and after a key rotation are found. The quarantine keeps raw lines, so a line
is removed when it mentions the raw id as a JSON string or number. An ``erasure`` ledger row lists the
partitions touched, so the next ``dbt build`` re-aggregates exactly those dates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .keys import Keyring
from ..lake.atomic import write_parquet_atomic
from ..lake.layout import QUARANTINE_SCHEMA, Lake, LedgerEntry, PartitionCount


@dataclass
class ErasureReport:
    """Before/after counts of one erasure.

    Attributes:
        player_keys: the player's keys, one per hash key.
        partitions: ``(event_type, event_date)`` → rows removed.
        files_rewritten: event files rewritten or deleted.
        quarantine_removed: quarantined lines removed.
        batch_id: the erasure's ledger row (None on a dry run or when nothing was found).
    """

    player_keys: list[str]
    partitions: dict[tuple[str, str], int] = field(default_factory=dict)
    files_rewritten: int = 0
    quarantine_removed: int = 0
    batch_id: str | None = None

    @property
    def rows_removed(self) -> int:
        return sum(self.partitions.values())


def _mentions(raw: bytes, player_id: str) -> bool:
    needles = [orjson.dumps(player_id)]
    if player_id.lstrip("-").isdigit():
        needles.append(player_id.encode())
    return any(needle in raw for needle in needles)


def erase_player(lake: Lake, keyring: Keyring, player_id: str, *, dry_run: bool = False) -> ErasureReport:
    """Remove every lake and quarantine row of ``player_id`` (a raw id, as producers send it)."""
    keys = sorted({h.hash(player_id) for h in keyring.all()})
    report = ErasureReport(keys)
    wanted = pa.array(keys, pa.string())
    for path in sorted(lake.events.glob("event_type=*/event_date=*/*.parquet")):
        players = pq.read_table(path, columns=["player_key"]).column(0)
        hits = pc.sum(pc.is_in(players, value_set=wanted)).as_py() or 0
        if not hits:
            continue
        event_type = path.parent.parent.name.split("=", 1)[1]
        event_date = path.parent.name.split("=", 1)[1]
        report.partitions[(event_type, event_date)] = report.partitions.get((event_type, event_date), 0) + hits
        report.files_rewritten += 1
        if dry_run:
            continue
        table = pq.read_table(path)
        kept = table.filter(pc.invert(pc.fill_null(pc.is_in(table.column("player_key"), value_set=wanted), False)))
        if kept.num_rows:
            write_parquet_atomic(kept, path)
        else:
            path.unlink()
    from .quarantine_crypto import QuarantineCipher, open_raw

    cipher = QuarantineCipher(keyring)  # quarantined lines are sealed (docs/requirements/design.md#privacy-at-rest): open each to search it
    for path in sorted(lake.quarantine.glob("*.parquet")):
        if path.name.startswith("_"):
            continue
        rows = pq.read_table(path).to_pylist()
        kept = [row for row in rows if not _mentions(open_raw(cipher, row), player_id)]
        report.quarantine_removed += len(rows) - len(kept)
        if dry_run or len(kept) == len(rows):
            continue
        if kept:
            write_parquet_atomic(pa.Table.from_pylist(kept, schema=QUARANTINE_SCHEMA), path)
        else:
            path.unlink()
    if not dry_run and report.partitions:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        report.batch_id = "erasure-" + hashlib.sha256(f"{keys}{now.isoformat()}".encode()).hexdigest()[:12]
        lake.write_ledger(LedgerEntry(
            batch_id=report.batch_id, kind="erasure", source_file="erasure", source_sha256="", source_bytes=0,
            as_of=now, started_at=now, finished_at=now, backfill=False, lines_read=0, records_read=0, landed=0,
            quarantined=0, duplicates=0, dropped=0,
            partitions=tuple(PartitionCount(t, date.fromisoformat(d)) for (t, d) in sorted(report.partitions))))
    return report
