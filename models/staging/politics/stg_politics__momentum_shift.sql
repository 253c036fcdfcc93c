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
        sample_rate,
        company_id,
        state_code,
        momentum_from,
        momentum_to,
        event_date
    from {{ source('lake_politics', 'momentum_shift') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

final as (
    select
        event_id,
        player_key,
        hash_key_id,
        company_id,
        state_code,
        momentum_from,
        momentum_to,
        sample_rate,
        schema_version,
        occurred_at,
        cast(event_date as date) as event_date,
        received_at,
        batch_id
    from deduplicated
)

select * from final
