{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

with

events as (
    select
        event_date,
        event_type,
        event_category,
        outcome,
        amount,
        sample_rate
    from {{ ref('stg_gameplay__events') }}
    where {{ reprocess_filter('event_date') }}
),

sessions as (
    select
        session_date,
        end_reason,
        duration_seconds,
        crashes,
        reconnects
    from {{ ref('fct_gameplay_sessions') }}
    where {{ reprocess_filter('session_date') }}
),

player_days as (
    select
        activity_date,
        player_key
    from {{ ref('fct_player_daily_activity') }}
    where is_gameplay_active
        and {{ reprocess_filter('activity_date') }}
),

activations as (
    select
        activation_date,
        player_key
    from {{ ref('dim_gameplay_players') }}
    where {{ reprocess_filter('activation_date') }}
),

event_totals as (
    select
        event_date,
        count(*) as events,
        sum(1.0 / sample_rate) as events_estimated,
        sum(case when event_category = 'combat' then 1 else 0 end) as combat_events,
        sum(case when event_category = 'combat' then 1.0 / sample_rate else 0 end) as combat_events_estimated,
        sum(case when event_type = 'ability_cast' then 1 else 0 end) as ability_casts,
        sum(case when event_type = 'ability_cast' then 1.0 / sample_rate else 0 end) as ability_casts_estimated,
        sum(case when event_type = 'engage_enemy' and outcome = 'win' then 1 else 0 end) as kills,
        sum(case when event_type = 'engage_enemy' and outcome = 'win' then 1.0 / sample_rate else 0 end)
            as kills_estimated,
        sum(case when event_type = 'death' then 1 else 0 end) as deaths,
        sum(case when event_type = 'death' then 1.0 / sample_rate else 0 end) as deaths_estimated,
        sum(case when event_type = 'xp_gain' then amount else 0 end) as xp_gained,
        sum(case when event_type = 'xp_gain' then amount / sample_rate else 0 end) as xp_gained_estimated,
        sum(case when event_type = 'loot_drop' then 1 else 0 end) as loot_drops,
        sum(case when event_type = 'loot_drop' then 1.0 / sample_rate else 0 end) as loot_drops_estimated,
        sum(case when event_category = 'social' then 1 else 0 end) as social_events,
        sum(case when event_category = 'social' then 1.0 / sample_rate else 0 end) as social_events_estimated
    from events
    group by event_date
),

session_totals as (
    select
        session_date as event_date,
        count(*) as sessions,
        sum(case when end_reason = 'crash' then 1 else 0 end) as sessions_ended_by_crash,
        sum(crashes) as crashes,
        sum(reconnects) as reconnects,
        sum(case when end_reason <> 'open' then duration_seconds end) as session_seconds,
        {{ percentile("case when end_reason <> 'open' then duration_seconds end", 0.5) }} as session_seconds_p50,
        {{ percentile("case when end_reason <> 'open' then duration_seconds end", 0.9) }} as session_seconds_p90
    from sessions
    group by session_date
),

player_totals as (
    select
        activity_date as event_date,
        count(distinct player_key) as distinct_players
    from player_days
    group by activity_date
),

activation_totals as (
    select
        activation_date as event_date,
        count(*) as new_players
    from activations
    group by activation_date
),

days as (
    select event_date from event_totals
    union
    select event_date from session_totals
    union
    select event_date from player_totals
),

final as (
    select
        cast(days.event_date as date) as event_date,
        cast(coalesce(player_totals.distinct_players, 0) as bigint) as distinct_players,
        cast(coalesce(activation_totals.new_players, 0) as bigint) as new_players,
        cast(coalesce(session_totals.sessions, 0) as bigint) as sessions,
        cast(coalesce(session_totals.sessions_ended_by_crash, 0) as bigint) as sessions_ended_by_crash,
        cast(coalesce(session_totals.crashes, 0) as bigint) as crashes,
        cast(coalesce(session_totals.reconnects, 0) as bigint) as reconnects,
        cast(coalesce(session_totals.session_seconds, 0) as double) as session_seconds,
        cast(session_totals.session_seconds_p50 as double) as session_seconds_p50,
        cast(session_totals.session_seconds_p90 as double) as session_seconds_p90,
        {{ safe_divide('session_totals.sessions', 'player_totals.distinct_players') }} as sessions_per_player,
        cast(coalesce(event_totals.events, 0) as bigint) as events,
        cast(coalesce(event_totals.events_estimated, 0) as double) as events_estimated,
        cast(coalesce(event_totals.combat_events, 0) as bigint) as combat_events,
        cast(coalesce(event_totals.combat_events_estimated, 0) as double) as combat_events_estimated,
        cast(coalesce(event_totals.ability_casts, 0) as bigint) as ability_casts,
        cast(coalesce(event_totals.ability_casts_estimated, 0) as double) as ability_casts_estimated,
        cast(coalesce(event_totals.kills, 0) as bigint) as kills,
        cast(coalesce(event_totals.kills_estimated, 0) as double) as kills_estimated,
        cast(coalesce(event_totals.deaths, 0) as bigint) as deaths,
        cast(coalesce(event_totals.deaths_estimated, 0) as double) as deaths_estimated,
        cast(coalesce(event_totals.xp_gained, 0) as double) as xp_gained,
        cast(coalesce(event_totals.xp_gained_estimated, 0) as double) as xp_gained_estimated,
        cast(coalesce(event_totals.loot_drops, 0) as bigint) as loot_drops,
        cast(coalesce(event_totals.loot_drops_estimated, 0) as double) as loot_drops_estimated,
        cast(coalesce(event_totals.social_events, 0) as bigint) as social_events,
        cast(coalesce(event_totals.social_events_estimated, 0) as double) as social_events_estimated
    from days
    left join event_totals
        on days.event_date = event_totals.event_date
    left join session_totals
        on days.event_date = session_totals.event_date
    left join player_totals
        on days.event_date = player_totals.event_date
    left join activation_totals
        on days.event_date = activation_totals.event_date
)

select * from final
