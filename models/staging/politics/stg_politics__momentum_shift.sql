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

-- docs/requirements/politics.md#anti-abuse: a shift is backed when the company's polls in [t − window_seconds, t] show a margin change
-- (two snapshots of one poll with different margins); rule parameters from seed politics_abuse_rules
backing_rule as (
    select window_seconds
    from {{ ref('politics_abuse_rules') }}
    where rule_id = 'momentum_without_poll_change'
),

poll_snapshots as (
    select
        company_id,
        poll_id,
        occurred_at,
        margin
    from {{ ref('stg_politics__poll_interval') }}
    where company_id is not null
),

poll_evidence as (
    select
        shift.event_id,
        poll_snapshots.poll_id,
        max(poll_snapshots.margin) - min(poll_snapshots.margin) as margin_change
    from deduplicated as shift
    cross join backing_rule
    inner join poll_snapshots
        on shift.company_id = poll_snapshots.company_id
        and shift.occurred_at >= poll_snapshots.occurred_at
        and poll_snapshots.occurred_at
        >= {{ dbt.dateadd('second', '-backing_rule.window_seconds', 'shift.occurred_at') }}
    group by shift.event_id, poll_snapshots.poll_id
),

shift_evidence as (
    select
        event_id,
        max(margin_change) as margin_change
    from poll_evidence
    group by event_id
),

final as (
    select
        deduplicated.event_id,
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
        batch_id,
        coalesce(shift_evidence.margin_change, 0) > 0 as is_backed_by_poll_change
    from deduplicated
    left join shift_evidence
        on deduplicated.event_id = shift_evidence.event_id
)

select * from final
