{{ config(materialized='incremental', unique_key='week_start', meta={'grain': 'weekly', 'retention_key': 'week_start'}) }}

{#- Rolled up from agg_politics_daily, never from raw events (docs/requirements/politics.md#aggregates): counts, sums, sums of squares,
    min and max are additive over days; distinct users come from the player-day table (distinct counts cannot
    be summed, docs/requirements/design.md#incremental). The weekly mean and stddev are recomputed from the sums, so they equal a direct
    computation over the week's raw events. -#}
{%- set week_of_date = period_start('week', 'event_date') %}

with

daily as (
    select
        {{ week_of_date }} as week_start,
        event_type,
        scope,
        scope_id,
        events,
        outcome_count,
        success_count,
        value_count,
        value_sum,
        value_sum_squares,
        value_min,
        value_max
    from {{ ref('agg_politics_daily') }}
    where {{ reprocess_filter('event_date', period='week') }}
),

player_days as (
    select
        {{ week_of_date }} as week_start,
        event_type,
        company_id,
        player_key
    from {{ ref('fct_politics_player_days') }}
    where {{ reprocess_filter('event_date', period='week') }}
),

weekly_sums as (
    select
        week_start,
        event_type,
        scope,
        scope_id,
        sum(events) as events,
        sum(outcome_count) as outcome_count,
        sum(success_count) as success_count,
        sum(value_count) as value_count,
        sum(value_sum) as value_sum,
        sum(value_sum_squares) as value_sum_squares,
        min(value_min) as value_min,
        max(value_max) as value_max
    from daily
    group by week_start, event_type, scope, scope_id
),

weekly_users as (
    select
week_start,
event_type,
'all' as scope,
'all' as scope_id,
count(distinct player_key) as distinct_players
    from player_days
    group by week_start, event_type

    union all

    select
        week_start,
event_type,
'company' as scope,
company_id as scope_id,
count(distinct player_key) as distinct_players
    from player_days
    where company_id is not null
    group by week_start, event_type, company_id

    union all

    select
week_start,
event_type,
'user' as scope,
player_key as scope_id,
1 as distinct_players
    from player_days
    group by week_start, event_type, player_key
),

final as (
    select
        cast(weekly_sums.week_start as date) as week_start,
        cast(weekly_sums.event_type as string) as event_type,
        cast(weekly_sums.scope as string) as scope,
        cast(weekly_sums.scope_id as string) as scope_id,
        cast(weekly_sums.events as bigint) as events,
        cast(coalesce(weekly_users.distinct_players, 0) as bigint) as distinct_players,
        cast(weekly_sums.outcome_count as bigint) as outcome_count,
        cast(weekly_sums.success_count as bigint) as success_count,
        {{ safe_divide('weekly_sums.success_count', 'weekly_sums.outcome_count') }} as success_rate,
        cast(weekly_sums.value_count as bigint) as value_count,
        cast(weekly_sums.value_sum as double) as value_sum,
        cast(weekly_sums.value_sum_squares as double) as value_sum_squares,
        {{ safe_divide('weekly_sums.value_sum', 'weekly_sums.value_count') }} as value_avg,
        cast({{ variance_from_sums('weekly_sums.value_count', 'weekly_sums.value_sum', 'weekly_sums.value_sum_squares') }} as double)
            as value_variance,
        cast({{ stddev_from_sums('weekly_sums.value_count', 'weekly_sums.value_sum', 'weekly_sums.value_sum_squares') }} as double)
            as value_stddev,
        cast(weekly_sums.value_min as double) as value_min,
        cast(weekly_sums.value_max as double) as value_max
    from weekly_sums
    left join weekly_users
        on weekly_sums.week_start = weekly_users.week_start
        and weekly_sums.event_type = weekly_users.event_type
        and weekly_sums.scope = weekly_users.scope
        and weekly_sums.scope_id = weekly_users.scope_id
)

select * from final
