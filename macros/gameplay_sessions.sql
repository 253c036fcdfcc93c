{#- Sessionization (docs/requirements/gameplay.md#events session lifecycle): the gameplay events of one player and one client session id,
    in time order, split into sessions. Rules (docs/families/gameplay.md):
    1. a new session begins at the pair's first event, at a session_start that is not the first event of the
       current session (a client reusing its session id), and after more than 30 minutes without an event —
       except between a session_start and the session_end or session_crash that closes it: lifecycle events are
       sampled at 100% (docs/requirements/gameplay.md#sampling), so where they exist they define the session, and a long quiet stretch inside
       it only means its other events were sampled out; inactivity closes only sessions that never got an end;
    2. a reconnect within 30 minutes continues the session (counted in `reconnects`), as does any event after a
       session_crash within 30 minutes;
    3. the session ends at its last lifecycle event when that is a session_end (`ended`) or a session_crash not
       followed by a reconnect (`crash`); otherwise 30 minutes of inactivity closes it at its last event
       (`inactivity`), or it is still `open` when that last event is less than 30 minutes before the newest
       ingest clock (max received_at).
    Shared by the view int_gameplay__sessions (every session) and
    the incremental fct_gameplay_sessions (the sessions of the (player, session id) pairs a run touches). Returns
    `with … select` over stg_gameplay__events: `events_where` filters the events read (a condition on their
    columns, e.g. event_date literals so the lake partitions prune), `touched_sessions` (a query of
    `touched_player_key, touched_session_id`) keeps only those pairs, and `clock` (a scalar SQL expression) is
    the newest ingest clock that decides `open` (default: max received_at of the events read). -#}
{% macro gameplay_sessions(events_where='1 = 1', touched_sessions=none, clock=none) %}
{%- set inactivity_minutes = 30 -%}

with

events as (
    select
        event_id,
        event_type,
        event_category,
        player_key,
        session_id,
        seq,
        match_id,
        build,
        platform,
        shard,
        region,
        character_class,
        playstyle,
        game_mode,
        match_result,
        outcome,
        amount,
        sample_rate,
        occurred_at,
        received_at
    from {{ ref('stg_gameplay__events') }} as staged
    {%- if touched_sessions %}
    inner join ({{ touched_sessions }}) as touched
        on staged.player_key = touched.touched_player_key
        and staged.session_id = touched.touched_session_id
    {%- endif %}
    where player_key is not null
        and session_id is not null
        and {{ events_where }}
),

clock as (
    {%- if clock %}
    select {{ clock }} as newest_received_at
    {%- else %}
    select max(received_at) as newest_received_at
    from events
    {%- endif %}
),

ordered as (
    select
        *,
        case event_type
            when 'session_start' then 0
            when 'session_end' then 2
            when 'session_crash' then 2
            else 1
        end as lifecycle_rank
    from events
),

positioned as (
    select
        *,
        row_number() over (
            partition by player_key, session_id
            order by occurred_at, lifecycle_rank, seq, event_id
        ) as event_position
    from ordered
),

-- where each event sits among the lifecycle events of its (player, session id); the window is spelled out in
-- each call (Spark has no frame on a named window)
with_previous as (
    select
        *,
        lag(occurred_at) over (partition by player_key, session_id order by event_position) as previous_occurred_at,
        max(case when event_type = 'session_start' then event_position end) over (
            partition by player_key, session_id order by event_position rows between unbounded preceding and 1 preceding
        ) as previous_start_position,
        max(case when event_type in ('session_end', 'session_crash') then event_position end) over (
            partition by player_key, session_id order by event_position rows between unbounded preceding and 1 preceding
        ) as previous_close_position,
        min(case when event_type in ('session_end', 'session_crash') then event_position end) over (
            partition by player_key, session_id order by event_position rows between current row and unbounded following
        ) as next_close_position,
        min(case when event_type = 'session_start' then event_position end) over (
            partition by player_key, session_id order by event_position rows between 1 following and unbounded following
        ) as next_start_position
    from positioned
),

flagged as (
    select
        *,
        case
            when previous_occurred_at is null then 1
            when event_type = 'session_start' then 1
            -- inside a started session that a later end (or crash) closes: lifecycle events define it
            when previous_start_position is not null
                and coalesce(previous_close_position, 0) < previous_start_position
                and next_close_position is not null
                and next_close_position < coalesce(next_start_position, next_close_position + 1)
                then 0
            when occurred_at > {{ dbt.dateadd('minute', inactivity_minutes, 'previous_occurred_at') }} then 1
            else 0
        end as is_session_start
    from with_previous
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by player_key, session_id
            order by occurred_at, lifecycle_rank, seq, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged
),

-- the last lifecycle event of each session decides how it ended
lifecycle as (
    select
        player_key,
        session_id,
        session_number,
        event_type as last_lifecycle_type,
        occurred_at as last_lifecycle_at
    from (
        select
            player_key,
            session_id,
            session_number,
            event_type,
            occurred_at,
            row_number() over (
                partition by player_key, session_id, session_number
                order by occurred_at desc, lifecycle_rank desc, seq desc, event_id desc
            ) as recency
        from numbered
        where event_category = 'lifecycle'
    ) as ranked
    where recency = 1
),

-- the session_start of each session carries the cohort attributes (first one wins)
starts as (
    select
        player_key,
        session_id,
        session_number,
        build,
        platform,
        shard,
        region,
        character_class,
        playstyle,
        game_mode
    from (
        select
            *,
            row_number() over (
                partition by player_key, session_id, session_number
                order by occurred_at, seq, event_id
            ) as position
        from numbered
        where event_type = 'session_start'
    ) as ranked
    where position = 1
),

sessions as (
    select
        player_key,
        session_id,
        session_number,
        min(occurred_at) as started_at,
        max(occurred_at) as last_event_at,
        max(match_id) as match_id,
        max(case when event_type = 'session_end' then match_result end) as match_result,
        max(case when event_type = 'session_start' then 1 else 0 end) = 1 as has_session_start,
        max(case when event_type = 'reconnect' and is_session_start = 1 then 1 else 0 end) = 1 as is_reconnect_start,
        sum(case when event_type = 'session_crash' then 1 else 0 end) as crashes,
        sum(case when event_type = 'reconnect' then 1 else 0 end) as reconnects,
        count(*) as events,
        sum(1.0 / sample_rate) as events_estimated,
        sum(case when event_category = 'combat' then 1 else 0 end) as combat_events,
        sum(case when event_category = 'combat' then 1.0 / sample_rate else 0 end) as combat_events_estimated,
        sum(case when event_type = 'ability_cast' then 1 else 0 end) as ability_casts,
        sum(case when event_type = 'ability_cast' then 1.0 / sample_rate else 0 end) as ability_casts_estimated,
        sum(case when event_type = 'engage_enemy' and outcome = 'win' then 1 else 0 end) as kills,
        sum(case when event_type = 'engage_enemy' and outcome = 'win' then 1.0 / sample_rate else 0 end) as kills_estimated,
        sum(case when event_type = 'death' then 1 else 0 end) as deaths,
        sum(case when event_type = 'death' then 1.0 / sample_rate else 0 end) as deaths_estimated,
        sum(case when event_type = 'xp_gain' then amount else 0 end) as xp_gained,
        sum(case when event_type = 'xp_gain' then amount / sample_rate else 0 end) as xp_gained_estimated,
        sum(case when event_type = 'loot_drop' then 1 else 0 end) as loot_drops,
        sum(case when event_type = 'loot_drop' then 1.0 / sample_rate else 0 end) as loot_drops_estimated,
        sum(case when event_category = 'progression' then 1 else 0 end) as progression_events,
        sum(case when event_category = 'progression' then 1.0 / sample_rate else 0 end) as progression_events_estimated,
        sum(case when event_category = 'social' then 1 else 0 end) as social_events,
        sum(case when event_category = 'social' then 1.0 / sample_rate else 0 end) as social_events_estimated,
        min(case when event_type in ('engage_enemy', 'damage_dealt', 'damage_taken', 'death') then occurred_at end)
            as first_combat_at,
        min(case when event_type = 'engage_enemy' and outcome = 'win' then occurred_at end) as first_combat_win_at
    from numbered
    group by player_key, session_id, session_number
),

final as (
    select
        {{ dbt.hash(dbt.concat(['sessions.player_key', "'/'", 'sessions.session_id', "'/'", "cast(sessions.session_number as string)"])) }}
            as session_key,
        sessions.player_key,
        sessions.session_id,
        cast(sessions.session_number as bigint) as session_number,
        sessions.match_id,
        cast(sessions.started_at as date) as session_date,
        sessions.started_at,
        sessions.last_event_at,
        case
            when lifecycle.last_lifecycle_type in ('session_end', 'session_crash') then lifecycle.last_lifecycle_at
            else sessions.last_event_at
        end as ended_at,
        case
            when lifecycle.last_lifecycle_type = 'session_end' then 'ended'
            when lifecycle.last_lifecycle_type = 'session_crash' then 'crash'
            when sessions.last_event_at > {{ dbt.dateadd('minute', -inactivity_minutes, 'clock.newest_received_at') }}
                then 'open'
            else 'inactivity'
        end as end_reason,
        cast(
            {{ dbt.datediff('sessions.started_at', "case when lifecycle.last_lifecycle_type in ('session_end', 'session_crash') then lifecycle.last_lifecycle_at else sessions.last_event_at end", 'millisecond') }}
            as double
        ) / 1000.0 as duration_seconds,
        sessions.has_session_start,
        sessions.is_reconnect_start,
        cast(sessions.crashes as bigint) as crashes,
        cast(sessions.reconnects as bigint) as reconnects,
        sessions.crashes > 0 and coalesce(lifecycle.last_lifecycle_type, '') <> 'session_crash' as is_crash_recovered,
        starts.build,
        starts.platform,
        starts.shard,
        starts.region,
        starts.character_class,
        starts.playstyle,
        starts.game_mode,
        sessions.match_result,
        cast(sessions.events as bigint) as events,
        cast(sessions.events_estimated as double) as events_estimated,
        cast(sessions.combat_events as bigint) as combat_events,
        cast(sessions.combat_events_estimated as double) as combat_events_estimated,
        cast(sessions.ability_casts as bigint) as ability_casts,
        cast(sessions.ability_casts_estimated as double) as ability_casts_estimated,
        cast(sessions.kills as bigint) as kills,
        cast(sessions.kills_estimated as double) as kills_estimated,
        cast(sessions.deaths as bigint) as deaths,
        cast(sessions.deaths_estimated as double) as deaths_estimated,
        cast(sessions.xp_gained as double) as xp_gained,
        cast(sessions.xp_gained_estimated as double) as xp_gained_estimated,
        cast(sessions.loot_drops as bigint) as loot_drops,
        cast(sessions.loot_drops_estimated as double) as loot_drops_estimated,
        cast(sessions.progression_events as bigint) as progression_events,
        cast(sessions.progression_events_estimated as double) as progression_events_estimated,
        cast(sessions.social_events as bigint) as social_events,
        cast(sessions.social_events_estimated as double) as social_events_estimated,
        sessions.first_combat_at,
        sessions.first_combat_win_at
    from sessions
    cross join clock
    left join lifecycle
        on sessions.player_key = lifecycle.player_key
        and sessions.session_id = lifecycle.session_id
        and sessions.session_number = lifecycle.session_number
    left join starts
        on sessions.player_key = starts.player_key
        and sessions.session_id = starts.session_id
        and sessions.session_number = starts.session_number
)

select * from final
{% endmacro %}
