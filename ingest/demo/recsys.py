"""``make demo``: the real Open Bandit sample through the whole spine.

import (both policies) → ingest --backfill (demo hash key) → dbt build → CTR per day per bucket from
``agg_recsys_daily``. The sample comes from ``../shared/data/obd`` or, when absent, from the ``obp==0.4.1``
wheel on PyPI.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..privacy.keys import IdentityHasher
from ..importers.obd import import_obd, locate_obd_sample
from ..lake.layout import Lake
from ..pipeline.batch import BatchIngest, IngestSettings
from ..registry.schema import Registry
from ..config import PROJECT_ROOT
from ..warehouse.marts import run_dbt

CTR_BY_DAY_AND_BUCKET = """
select
    event_date,
    bucket,
    sum(impressions) as impressions,
    sum(clicks) as clicks,
    round(sum(clicks) / nullif(sum(impressions), 0), 5) as ctr
from agg_recsys_daily
where position = 0  -- the all-positions row of each day and bucket
    and experiment_id = 'obd-all'
group by event_date, bucket
order by event_date, bucket
"""


def run_demo(data_dir: Path, echo=print, *, families: bool = True) -> None:
    """Run the demo into ``data_dir`` and print what landed where.

    With ``families`` (the default), first the generated players of every family and the real SC2/WAVES data;
    always the Open Bandit sample last, ending with CTR per day per bucket.

    Raises:
        TelemetryError: a step failed (sample not found, dbt failed, …).
    """
    from datetime import datetime, timezone

    data_dir = Path(data_dir).resolve()
    if families:
        from .families import run_generated_demo
        from .real import run_real_demo

        echo("== generated players: politics, ability metrics (and every family) — issue 3 ==")
        run_generated_demo(data_dir, echo)
        echo("== real data: StarCraft II replays (gameplay, ability) and WAVES (learning) — issue 4 ==")
        run_real_demo(data_dir, echo)
        echo("== Open Bandit sample → recsys ==")
    sample = locate_obd_sample(PROJECT_ROOT.parent / "shared" / "data", data_dir / "_cache")
    echo(f"1/4 import: Open Bandit sample from {sample}")
    csvs = sorted(sample.glob("*/all/all.csv"))
    result = import_obd(csvs, data_dir / "import" / "obd")
    echo(str(result))
    echo("2/4 ingest --backfill with the public DEMO hash key (ids in this lake are not protected)")
    registry = Registry.load(PROJECT_ROOT / "schemas")
    lake = Lake(data_dir / "lake")
    lake.ensure_layout(registry)
    hasher = IdentityHasher.demo()
    settings = IngestSettings(registry.root, hasher.key, hasher.key_id, datetime.now(timezone.utc), backfill=True)
    with BatchIngest(registry, lake, settings, workers=1) as runner:
        for path in sorted((data_dir / "import" / "obd").glob("*.jsonl")):
            batch = runner.run(path)
            state = "already in the ledger, skipped" if batch.skipped else (
                f"read {batch.records_read} = landed {batch.landed} + quarantined {batch.quarantined} + "
                f"duplicates {batch.duplicates} + dropped {batch.dropped}")
            echo(f"    {path.name}: {state}")
    echo("3/4 dbt build")
    run_dbt(["build"], data_dir)
    echo("4/4 CTR per day per bucket (agg_recsys_daily)")
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        echo(con.sql(CTR_BY_DAY_AND_BUCKET).__str__())
    echo(f"lake:       {lake.root}\nwarehouse:  {data_dir / 'warehouse.duckdb'}\n"
         f"quarantine: {lake.quarantine}\nledger:     {lake.ledger}")
    # readers (docs/readers.md): run_dbt(["build"]) above already published the marts as Parquet
    from ..quality.gx import run_dq
    from ..report.dashboard import build_report
    from ..warehouse.marts import marts_path

    echo(f"published marts: {marts_path(data_dir)} (read them with `from ingest import warehouse`)")
    echo("data quality: Great Expectations checkpoint over the latest batch, the ledger and the marts")
    quality = run_dq(data_dir, registry=registry)
    stats = quality.summary["statistics"]
    echo(f"    {stats['successful_expectations']} of {stats['evaluated_expectations']} expectations met"
         + ("" if quality.success else f"; failed: {', '.join(sorted({f['asset'] for f in quality.failed}))}"))
    echo(f"    Data Docs: {quality.data_docs}")
    echo(f"dashboard: {build_report(data_dir, registry).path}")
