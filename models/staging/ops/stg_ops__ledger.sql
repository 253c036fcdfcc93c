{#- A table, not a view: every incremental model's engine queries the ledger several times per build
    (reprocess_keys, ledger_stamp), and the ledger is one Parquet file per batch; read once per build. -#}
{{ config(materialized='table') }}

with

source as (
    select
        batch_id,
        kind,
        source_file,
        source_sha256,
        source_bytes,
        as_of,
        started_at,
        finished_at,
        backfill,
        lines_read,
        records_read,
        landed,
        quarantined,
        duplicates,
        dropped,
        partitions
    from {{ source('lake_ops', 'ledger') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='batch_id', order_by='finished_at') }}
),

final as (
    select
        batch_id,
        kind,
        source_file,
        source_sha256,
        source_bytes,
        backfill as is_backfill,
        lines_read,
        records_read,
        landed,
        quarantined,
        duplicates,
        dropped,
        partitions,
        cast({{ list_length('partitions') }} as bigint) as partitions_touched,
        as_of,
        started_at,
        finished_at
    from deduplicated
)

select * from final
