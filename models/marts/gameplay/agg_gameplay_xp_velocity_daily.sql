{#- A player's slices (dim_gameplay_players) can change while data of their first 7 days lands (a
    late session_start, the derived playstyle): the 7 days either side of each touched date are redone too. -#}
{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date',
          'reprocess': {'families': ['gameplay'], 'spill_before': 7, 'spill_after': 7}}) }}

{#- XP velocity (docs/requirements/gameplay.md designer dashboards) per day and cohort slice, from the sessions that started that day
    (fct_gameplay_sessions, dated by start like agg_gameplay_daily): the XP those sessions gained and the time
    they lasted (started_at → ended_at; an open session counts up to its last event so far, and its XP so far).
    The slices are the player's, from dim_gameplay_players (the first session), as in
    agg_gameplay_cohorts. -#}

with

sessions as (
    select
        session_date,
        player_key,
        duration_seconds,
        xp_gained,
        xp_gained_estimated
    from {{ ref('fct_gameplay_sessions') }}
    where {{ reprocess_filter('session_date') }}
),

players as (
    select
        player_key,
        character_class,
        region,
        playstyle
    from {{ ref('dim_gameplay_players') }}
),

sliced as (
    select
        sessions.session_date as event_date,
        coalesce(players.character_class, 'unknown') as character_class,
        coalesce(players.region, 'unknown') as region,
        coalesce(players.playstyle, 'unknown') as playstyle,
        sessions.player_key,
        sessions.duration_seconds,
        sessions.xp_gained,
        sessions.xp_gained_estimated
    from sessions
    left join players
        on sessions.player_key = players.player_key
),

totals as (
    select
        event_date,
        character_class,
        region,
        playstyle,
        count(distinct player_key) as distinct_players,
        count(*) as sessions,
        sum(coalesce(xp_gained, 0)) as xp_gained,
        sum(coalesce(xp_gained_estimated, 0)) as xp_gained_estimated,
        sum(coalesce(duration_seconds, 0)) / 3600.0 as active_hours
    from sliced
    group by event_date, character_class, region, playstyle
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(character_class as string) as character_class,
        cast(region as string) as region,
        cast(playstyle as string) as playstyle,
        cast(distinct_players as bigint) as distinct_players,
        cast(sessions as bigint) as sessions,
        cast(xp_gained as double) as xp_gained,
        cast(xp_gained_estimated as double) as xp_gained_estimated,
        cast(active_hours as double) as active_hours,
        {{ safe_divide('xp_gained', 'active_hours') }} as xp_per_active_hour,
        {{ safe_divide('xp_gained_estimated', 'active_hours') }} as xp_per_active_hour_estimated
    from totals
)

select * from final
