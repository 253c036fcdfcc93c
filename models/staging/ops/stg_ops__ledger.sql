{#- A table, not a view: every incremental model's engine queries the ledger several times per build
    (reprocess_keys, ledger_stamp). Incremental on DuckDB: the ledger is append-only, one immutable file per batch
    named by its batch id (docs/lake.md), so a build reads only the files of batches the table does not hold yet
    (new_ledger_files) instead of every batch's file; Spark rebuilds it whole. Plain dbt incremental: the engine
    (follows_engine) does not run on it, it is what the engine reads. -#}
{{ config(materialized='table' if target.type == 'spark' else 'incremental', unique_key='batch_id') }}
{%- set ledger = new_ledger_files(source('lake_ops', 'ledger')) %}

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
    from {{ ledger }}
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
