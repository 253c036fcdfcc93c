{#- One row per closed learning session with the docs/requirements/learning.md#features eight behavioral features (definitions in
    _learning__models.yml and docs/families/learning.md), with the counts each one is computed from. -#}
{#- Redone per session: the sessions fct_learning_sessions rewrote since this table's watermark. -#}
{{
    config(
        materialized='incremental',
        unique_key='session_id',
        on_schema_change='append_new_columns',
        meta={'grain': 'daily', 'retention_key': 'session_date',
              'reprocess': {'families': ['learning'], 'changed_in': 'fct_learning_sessions'}},
    )
}}
-- depends_on: {{ ref('int_learning__session_tasks') }}
-- depends_on: {{ ref('int_learning__failure_recoveries') }}
{#- the events of the sessions redone, from every day they have events on (int_learning__session_days) -#}
{%- set keys_sql -%}
    select session_id from {{ ref('fct_learning_sessions') }} where is_closed and {{ reprocess_filter('session_id') }}
{%- endset %}
{%- set events_where = session_event_dates(ref('int_learning__session_days'), keys_sql)
                       ~ ' and session_id in (' ~ keys_sql ~ ')' %}

with

sessions as (
    select
        session_id,
        player_key,
        mission_id,
        session_date,
        started_at,
        ended_at,
        events
    from {{ ref('fct_learning_sessions') }}
    where is_closed
        and {{ reprocess_filter('session_id') }}
),

events as (
    select
        session_id,
        event_type
    from {{ ref('stg_learning__events') }}
    where {{ events_where }}
        and session_id in (select session_id from sessions)
),

tasks as (
    select
        session_id,
        sum(case when is_started then 1 else 0 end) as tasks_started,
        sum(case when is_completed then 1 else 0 end) as tasks_completed,
        sum(case when is_completed and expected_seconds is not null and actual_seconds > 0 then 1 else 0 end)
            as timed_tasks,
        sum(case when is_completed and expected_seconds is not null and actual_seconds > 0 then expected_seconds end)
            as expected_seconds,
        sum(case when is_completed and expected_seconds is not null and actual_seconds > 0 then actual_seconds end)
            as actual_seconds
    from ({{ learning_session_tasks(events_where) | indent(4) }}) as session_tasks
    where session_id in (select session_id from sessions)
    group by session_id
),

failures as (
    select
        session_id,
        count(*) as failures,
        sum(case when is_recovered then 1 else 0 end) as failures_recovered
    from ({{ learning_failure_recoveries(events_where) | indent(4) }}) as failure_recoveries
    where session_id in (select session_id from sessions)
    group by session_id
),

counts as (
    select
        session_id,
        sum(case when event_type = 'retry' then 1 else 0 end) as retries,
        sum(case when event_type = 'restart' then 1 else 0 end) as restarts,
        sum(case when event_type = 'distraction' then 1 else 0 end) as distractions,
        sum(case when event_type = 'collaboration' then 1 else 0 end) as collaboration_events,
        sum(case when event_type = 'leadership' then 1 else 0 end) as leadership_events,
        sum(case when event_type in ('collaboration', 'help_given', 'help_received') then 1 else 0 end)
            as collaboration_and_help_events,
        sum(case when event_type in ('leadership', 'initiative') then 1 else 0 end) as leadership_and_initiative_events
    from events
    group by session_id
),

final as (
    select
        sessions.session_id,
        sessions.player_key,
        sessions.mission_id,
        sessions.session_date,
        sessions.started_at,
        sessions.ended_at,
        cast(sessions.events as bigint) as events,
        cast(coalesce(tasks.tasks_started, 0) as bigint) as tasks_started,
        cast(coalesce(tasks.tasks_completed, 0) as bigint) as tasks_completed,
        {{ safe_divide('tasks.tasks_completed', 'tasks.tasks_started') }} as task_completion_rate,
        cast(coalesce(tasks.timed_tasks, 0) as bigint) as timed_tasks,
        cast(tasks.expected_seconds as double) as expected_task_seconds,
        cast(tasks.actual_seconds as double) as actual_task_seconds,
        {{ safe_divide('tasks.expected_seconds', 'tasks.actual_seconds') }} as time_efficiency,
        cast(coalesce(counts.retries, 0) as bigint) as retries,
        cast(coalesce(counts.restarts, 0) as bigint) as restarts,
        cast(coalesce(counts.retries, 0) + coalesce(counts.restarts, 0) as bigint) as retry_count,
        cast(coalesce(failures.failures, 0) as bigint) as failures,
        cast(coalesce(failures.failures_recovered, 0) as bigint) as failures_recovered,
        {{ safe_divide('failures.failures_recovered', 'failures.failures') }} as recovery_rate,
        cast(coalesce(counts.distractions, 0) as bigint) as distractions,
        1.0 - {{ safe_divide('coalesce(counts.distractions, 0)', 'sessions.events') }} as distraction_resistance,
        cast({{ dbt.datediff('sessions.started_at', 'sessions.ended_at', 'millisecond') }} as double) / 60000.0
            as focus_duration_minutes,
        cast(coalesce(counts.collaboration_events, 0) as bigint) as collaboration_indicators,
        cast(coalesce(counts.leadership_events, 0) as bigint) as leadership_indicators,
        cast(coalesce(counts.collaboration_and_help_events, 0) as bigint) as collaboration_and_help_events,
        cast(coalesce(counts.leadership_and_initiative_events, 0) as bigint) as leadership_and_initiative_events
    from sessions
    left join tasks
        on sessions.session_id = tasks.session_id
    left join failures
        on sessions.session_id = failures.session_id
    left join counts
        on sessions.session_id = counts.session_id
)

select * from final
