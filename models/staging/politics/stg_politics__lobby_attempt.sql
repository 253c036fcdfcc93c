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
        difficulty_tier,
        success,
        spend,
        breakdown,
        event_date
    from {{ source('lake_politics', 'lobby_attempt') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

final as (
    select
        deduplicated.event_id,
        deduplicated.player_key,
        deduplicated.hash_key_id,
        deduplicated.company_id,
        deduplicated.difficulty_tier,
        deduplicated.success as is_success,
        deduplicated.spend,
        breakdown.base_probability,
        breakdown.spend_modifier,
        breakdown.reputation_modifier,
        breakdown.final_probability,
        deduplicated.sample_rate,
        deduplicated.schema_version,
        deduplicated.occurred_at,
        cast(event_date as date) as event_date,
        deduplicated.received_at,
        deduplicated.batch_id
    from deduplicated
)

select * from final
