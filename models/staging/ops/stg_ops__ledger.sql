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
