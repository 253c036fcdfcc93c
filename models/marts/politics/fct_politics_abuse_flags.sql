{{ config(materialized='incremental', unique_key='event_date', meta={'reprocess': {'families': ['politics'], 'spill_after': 1}}) }}

{#- The cross-event anti-abuse rules of docs/requirements/politics.md#anti-abuse that ingest cannot check line by line; parameters from
    seed politics_abuse_rules. Both look back at most one window (≤ 1 day) before an event, so a date is
    redone when it or the day before was touched (spill_after: 1), and the events of the day before a date are
    read as context. -#}

with

rules as (
    select
        rule_id,
        reason_code,
        window_seconds,
        max_events
    from {{ ref('politics_abuse_rules') }}
    where stage = 'warehouse'
),

lobby_attempts as (
    select
        event_id,
        player_key,
        company_id,
        occurred_at,
        event_date
    from {{ ref('stg_politics__lobby_attempt') }}
    where player_key is not null
        and {{ reprocess_filter('event_date', days_before=1) }}
),

momentum_shifts as (
    select
        event_id,
        player_key,
        company_id,
        occurred_at,
        event_date
    from {{ ref('stg_politics__momentum_shift') }}
    where {{ reprocess_filter('event_date') }}
),

poll_snapshots as (
    select
        company_id,
        poll_id,
        occurred_at,
        margin
    from {{ ref('stg_politics__poll_interval') }}
    where company_id is not null
        and {{ reprocess_filter('event_date', days_before=1) }}
),

-- lobby_rate_exceeded: attempts by the same user in the window (t − window_seconds, t], itself included
lobby_windows as (
    select
        attempt.event_id,
        attempt.player_key,
        attempt.company_id,
        attempt.occurred_at,
        attempt.event_date,
        rules.rule_id,
        rules.reason_code,
        rules.max_events,
        count(*) as attempts_in_window
    from lobby_attempts as attempt
    cross join rules
    inner join lobby_attempts as earlier
        on attempt.player_key = earlier.player_key
        and attempt.occurred_at >= earlier.occurred_at
        and earlier.occurred_at > {{ dbt.dateadd('second', '-rules.window_seconds', 'attempt.occurred_at') }}
    where rules.rule_id = 'lobby_rate_exceeded'
    group by
        attempt.event_id,
        attempt.player_key,
        attempt.company_id,
        attempt.occurred_at,
        attempt.event_date,
        rules.rule_id,
        rules.reason_code,
        rules.max_events
),

lobby_flags as (
    select
        event_date,
        event_id,
        rule_id,
        reason_code,
        'lobby_attempt' as event_type,
        player_key,
        company_id,
        occurred_at,
        cast(attempts_in_window as double) as observed_value,
        cast(max_events as double) as limit_value
    from lobby_windows
    where attempts_in_window > max_events
),

-- momentum_without_poll_change: the company's polls in [t − window_seconds, t] must show a margin change,
-- i.e. two snapshots of one poll with different margins; a shift with no company cannot be backed
poll_evidence as (
    select
        shift.event_id,
        poll_snapshots.poll_id,
        max(poll_snapshots.margin) - min(poll_snapshots.margin) as margin_change
    from momentum_shifts as shift
    cross join rules
    inner join poll_snapshots
        on shift.company_id = poll_snapshots.company_id
        and shift.occurred_at >= poll_snapshots.occurred_at
        and poll_snapshots.occurred_at >= {{ dbt.dateadd('second', '-rules.window_seconds', 'shift.occurred_at') }}
    where rules.rule_id = 'momentum_without_poll_change'
    group by shift.event_id, poll_snapshots.poll_id
),

shift_evidence as (
    select
        event_id,
        max(margin_change) as margin_change
    from poll_evidence
    group by event_id
),

momentum_flags as (
    select
        shift.event_date,
        shift.event_id,
        rules.rule_id,
        rules.reason_code,
        'momentum_shift' as event_type,
        shift.player_key,
        shift.company_id,
        shift.occurred_at,
        cast(coalesce(shift_evidence.margin_change, 0) as double) as observed_value,
        cast(0 as double) as limit_value
    from momentum_shifts as shift
    cross join rules
    left join shift_evidence
        on shift.event_id = shift_evidence.event_id
    where rules.rule_id = 'momentum_without_poll_change'
        and coalesce(shift_evidence.margin_change, 0) <= 0
),

flags as (
    select * from lobby_flags
    union all
    select * from momentum_flags
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(event_id as string) as event_id,
        cast(rule_id as string) as rule_id,
        cast(reason_code as string) as reason_code,
        cast(event_type as string) as event_type,
        cast(player_key as string) as player_key,
        cast(company_id as string) as company_id,
        cast(occurred_at as timestamp) as occurred_at,
        observed_value,
        limit_value
    from flags
    where {{ reprocess_filter('event_date') }}
)

select * from final
