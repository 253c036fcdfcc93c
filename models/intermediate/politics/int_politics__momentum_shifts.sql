{#- One row per MOMENTUM_SHIFT event (event_id) with its anti-abuse check: backed or not by a polling margin
    change (docs/requirements/politics.md#anti-abuse). -#}
with

shifts as (
    select
        event_id,
        player_key,
        company_id,
        momentum_from,
        momentum_to,
        occurred_at,
        event_date,
        batch_id
    from {{ ref('stg_politics__momentum_shift') }}
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
    from shifts as shift
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
        shifts.event_id,
        shifts.player_key,
        shifts.company_id,
        shifts.momentum_from,
        shifts.momentum_to,
        shifts.occurred_at,
        shifts.event_date,
        shifts.batch_id,
        coalesce(shift_evidence.margin_change, 0) > 0 as is_backed_by_poll_change
    from shifts
    left join shift_evidence
        on shifts.event_id = shift_evidence.event_id
)

select * from final
