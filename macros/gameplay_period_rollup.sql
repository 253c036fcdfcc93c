{#- Body of agg_gameplay_weekly / agg_gameplay_monthly: one row per <period>_start (ISO week from Monday, or
    calendar month). Additive measures are summed from agg_gameplay_daily (aggregates outlive raw data, docs/requirements/design.md#retention, docs/requirements/design.md#incremental); distinct players (WAU / MAU: `distinct_players`) are counted over the period from fct_player_daily_activity and
    the session-length percentiles are recomputed from fct_gameplay_sessions over the whole period, never
    averaged from daily values. Incremental: reads only the days of the periods this run redoes (reprocess_filter). -#}
{% macro gameplay_period_rollup(period) %}
{%- set period_column = period ~ '_start' -%}
with

daily as (
    select
        {{ period_start(period, 'event_date') }} as period_start,
        *
    from {{ ref('agg_gameplay_daily') }}
    where {{ reprocess_filter('event_date', period=period) }}
),

sessions as (
    select
        {{ period_start(period, 'session_date') }} as period_start,
        end_reason,
        duration_seconds
    from {{ ref('fct_gameplay_sessions') }}
    where {{ reprocess_filter('session_date', period=period) }}
),

player_days as (
    select
        {{ period_start(period, 'activity_date') }} as period_start,
        player_key
    from {{ ref('fct_player_daily_activity') }}
    where is_gameplay_active
        and {{ reprocess_filter('activity_date', period=period) }}
),

daily_totals as (
    select
        period_start,
        sum(new_players) as new_players,
        sum(sessions) as sessions,
        sum(sessions_ended_by_crash) as sessions_ended_by_crash,
        sum(crashes) as crashes,
        sum(reconnects) as reconnects,
        sum(session_seconds) as session_seconds,
        sum(events) as events,
        sum(events_estimated) as events_estimated,
        sum(combat_events) as combat_events,
        sum(combat_events_estimated) as combat_events_estimated,
        sum(ability_casts) as ability_casts,
        sum(ability_casts_estimated) as ability_casts_estimated,
        sum(kills) as kills,
        sum(kills_estimated) as kills_estimated,
        sum(deaths) as deaths,
        sum(deaths_estimated) as deaths_estimated,
        sum(xp_gained) as xp_gained,
        sum(xp_gained_estimated) as xp_gained_estimated,
        sum(loot_drops) as loot_drops,
        sum(loot_drops_estimated) as loot_drops_estimated,
        sum(social_events) as social_events,
        sum(social_events_estimated) as social_events_estimated
    from daily
    group by period_start
),

session_lengths as (
    select
        period_start,
        {{ percentile("case when end_reason <> 'open' then duration_seconds end", 0.5) }} as session_seconds_p50,
        {{ percentile("case when end_reason <> 'open' then duration_seconds end", 0.9) }} as session_seconds_p90
    from sessions
    group by period_start
),

period_players as (
    select
        period_start,
        count(distinct player_key) as period_players
    from player_days
    group by period_start
),

final as (
    select
        cast(daily_totals.period_start as date) as {{ period_column }},
        cast(coalesce(period_players.period_players, 0) as bigint) as distinct_players,
        cast(daily_totals.new_players as bigint) as new_players,
        cast(daily_totals.sessions as bigint) as sessions,
        cast(daily_totals.sessions_ended_by_crash as bigint) as sessions_ended_by_crash,
        cast(daily_totals.crashes as bigint) as crashes,
        cast(daily_totals.reconnects as bigint) as reconnects,
        cast(daily_totals.session_seconds as double) as session_seconds,
        cast(session_lengths.session_seconds_p50 as double) as session_seconds_p50,
        cast(session_lengths.session_seconds_p90 as double) as session_seconds_p90,
        {{ safe_divide('daily_totals.sessions', 'period_players.period_players') }} as sessions_per_player,
        cast(daily_totals.events as bigint) as events,
        cast(daily_totals.events_estimated as double) as events_estimated,
        cast(daily_totals.combat_events as bigint) as combat_events,
        cast(daily_totals.combat_events_estimated as double) as combat_events_estimated,
        cast(daily_totals.ability_casts as bigint) as ability_casts,
        cast(daily_totals.ability_casts_estimated as double) as ability_casts_estimated,
        cast(daily_totals.kills as bigint) as kills,
        cast(daily_totals.kills_estimated as double) as kills_estimated,
        cast(daily_totals.deaths as bigint) as deaths,
        cast(daily_totals.deaths_estimated as double) as deaths_estimated,
        cast(daily_totals.xp_gained as double) as xp_gained,
        cast(daily_totals.xp_gained_estimated as double) as xp_gained_estimated,
        cast(daily_totals.loot_drops as bigint) as loot_drops,
        cast(daily_totals.loot_drops_estimated as double) as loot_drops_estimated,
        cast(daily_totals.social_events as bigint) as social_events,
        cast(daily_totals.social_events_estimated as double) as social_events_estimated
    from daily_totals
    left join session_lengths
        on daily_totals.period_start = session_lengths.period_start
    left join period_players
        on daily_totals.period_start = period_players.period_start
)

select * from final
{% endmacro %}
