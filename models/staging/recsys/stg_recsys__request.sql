-- depends_on: {{ ref('stg_ops__ledger_partitions') }} (built first: this view's data tests read the ledger, reprocess_test_filter)
with

source as (
    select
        event_id,
        schema_version,
        occurred_at,
        received_at,
        batch_id,
        player_key,
        hash_key_id,
        session_id,
        sample_rate,
        request_id,
        experiment_id,
        bucket,
        filters,
        k,
        region,
        locale,
        event_date
    from {{ source('lake_recsys', 'request') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

final as (
    select
        event_id,
        request_id,
        experiment_id,
        bucket,
        player_key,
        session_id,
        hash_key_id,
        cast(k as bigint) as requested_items,
        filters as filters_json,
        region,
        locale,
        sample_rate,
        schema_version,
        occurred_at,
        cast(event_date as date) as event_date,
        received_at,
        batch_id
    from deduplicated
)

select * from final
