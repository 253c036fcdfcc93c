{#- One row per learning session (docs/requirements/learning.md#fields game_sessions): the student, when it started and ended, its events and
    tasks, and whether it is closed. A session closes when a producer closed it (the docs/requirements/learning.md#apis close call, recorded
    in the lake) or after 30 minutes without an event, measured against the ingest clock (the newest received_at
    of the family). -#}
{%- set inactivity_minutes = 30 -%}
{#- Redone per session: the sessions of the events new batches landed, and every session still open (it closes
    as time passes, without new events of its own). -#}
{{
    config(
        materialized='incremental',
        unique_key='session_id',
        on_schema_change='append_new_columns',
        meta={'grain': 'daily', 'retention_key': 'session_date', 'reprocess': {
            'families': ['learning'],
            'keys_from': {'model': 'stg_learning__events', 'column': 'session_id'},
            'open_where': 'not is_closed',
        }},
    )
}}
{%- set session_days = ref('int_learning__session_days') %}
{#- the sessions redone, from every day they have events on (the index int_learning__session_days) -#}
{%- set keys_sql -%}
    select distinct session_id from {{ session_days }} where {{ reprocess_filter('session_id') }}
{%- endset %}

with

all_events as (
    select
        event_id,
        event_type,
        player_key,
        session_id,
        mission_id,
        task_id,
        sequence,
        game_version,
        client_version,
        occurred_at,
        received_at
    from {{ ref('stg_learning__events') }}
    where session_id is not null
        and {{ session_event_dates(session_days, keys_sql) }}
),

closes as (
    select session_id
    from {{ ref('stg_ops__session_closes') }}
),

-- the family's newest ingest clock (the index keeps each day's newest received_at)
clock as (
    select max(newest_received_at) as newest_received_at
    from {{ session_days }}
),

events as (
    select *
    from all_events
    where {{ reprocess_filter('session_id') }}
),

firsts as (
    select
        session_id,
        player_key,
        mission_id,
        game_version,
        client_version
    from (
        select
            *,
            row_number() over (partition by session_id order by sequence, occurred_at, event_id) as position
        from events
    ) as ordered
    where position = 1
),

sessions as (
    select
        session_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as events,
        count(distinct case when event_type = 'task_start' then task_id end) as tasks_started,
        count(distinct case when event_type = 'task_complete' then task_id end) as tasks_completed,
        max(case when event_type = 'mission_complete' then 1 else 0 end) = 1 as has_mission_complete,
        max(player_key) as any_player_key,
        max(mission_id) as any_mission_id
    from events
    group by session_id
),

final as (
    select
        sessions.session_id,
        coalesce(firsts.player_key, sessions.any_player_key) as player_key,
        coalesce(firsts.mission_id, sessions.any_mission_id) as mission_id,
        firsts.game_version,
        firsts.client_version,
        cast(sessions.started_at as date) as session_date,
        sessions.started_at,
        sessions.ended_at,
        cast(sessions.events as bigint) as events,
        cast(sessions.tasks_started as bigint) as tasks_started,
        cast(sessions.tasks_completed as bigint) as tasks_completed,
        sessions.has_mission_complete,
        (
            closes.session_id is not null
            or sessions.ended_at <= {{ dbt.dateadd('minute', -inactivity_minutes, 'clock.newest_received_at') }}
        ) as is_closed
    from sessions
    cross join clock
    left join firsts
        on sessions.session_id = firsts.session_id
    left join closes
        on sessions.session_id = closes.session_id
)

select * from final
