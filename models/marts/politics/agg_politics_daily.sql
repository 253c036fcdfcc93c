{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

with

events as (
    select
        event_date,
        event_type,
        player_key,
        company_id,
        value,
        is_success
    from {{ ref('int_politics__events_unioned') }}
    where {{ reprocess_filter('event_date') }}
),

event_types as (
    select
        event_type,
        has_outcome
    from {{ ref('politics_event_types') }}
),

-- every event counts once per scope: the whole game ('all'), its company, its user
scoped as (
    select
event_date,
event_type,
'all' as scope,
'all' as scope_id,
player_key,
value,
is_success
    from events

    union all

    select
event_date,
event_type,
'company' as scope,
company_id as scope_id,
player_key,
value,
is_success
    from events
    where company_id is not null

    union all

    select
event_date,
event_type,
'user' as scope,
player_key as scope_id,
player_key,
value,
is_success
    from events
    where player_key is not null
),

aggregated as (
    select
        event_date,
        event_type,
        scope,
        scope_id,
        count(*) as events,
        count(distinct player_key) as distinct_players,
        count(is_success) as outcome_count,
        sum(case when is_success then 1 else 0 end) as success_count,
        count(value) as value_count,
        sum(value) as value_sum,
        sum(value * value) as value_sum_squares,
        avg(value) as value_avg,
        var_samp(value) as value_variance,
        stddev_samp(value) as value_stddev,
        min(value) as value_min,
        max(value) as value_max
    from scoped
    group by event_date, event_type, scope, scope_id
),

final as (
    select
        cast(aggregated.event_date as date) as event_date,
        cast(aggregated.event_type as string) as event_type,
        cast(aggregated.scope as string) as scope,
        cast(aggregated.scope_id as string) as scope_id,
        cast(aggregated.events as bigint) as events,
        cast(aggregated.distinct_players as bigint) as distinct_players,
        cast(case when event_types.has_outcome then aggregated.outcome_count end as bigint) as outcome_count,
        cast(case when event_types.has_outcome then aggregated.success_count end as bigint) as success_count,
        case
            when event_types.has_outcome
                then {{ safe_divide('aggregated.success_count', 'aggregated.outcome_count') }}
        end as success_rate,
        cast(aggregated.value_count as bigint) as value_count,
        cast(aggregated.value_sum as double) as value_sum,
        cast(aggregated.value_sum_squares as double) as value_sum_squares,
        cast(aggregated.value_avg as double) as value_avg,
        cast(aggregated.value_variance as double) as value_variance,
        cast(aggregated.value_stddev as double) as value_stddev,
        cast(aggregated.value_min as double) as value_min,
        cast(aggregated.value_max as double) as value_max
    from aggregated
    left join event_types
        on aggregated.event_type = event_types.event_type
)

select * from final
