{#- One row per (session, task) with a task event: when the session first started and first completed the task,
    and the task's expected duration (seed learning_expected_task_durations). Input of the task completion rate
    and time efficiency features (docs/requirements/learning.md#features).
    int_learning__session_tasks and fct_learning_session_features run it over the events of the sessions they
    redo (`events_where`, a condition on stg_learning__events' columns). -#}
{% macro learning_session_tasks(events_where='1 = 1') %}
with

events as (
    select
        session_id,
        task_id,
        mission_id,
        event_type,
        occurred_at
    from {{ ref('stg_learning__events') }}
    where session_id is not null
        and {{ events_where }}
        and task_id is not null
        and event_type in ('task_start', 'task_complete')
),

expected as (
    select
        mission_id,
        task_id,
        expected_seconds
    from {{ ref('learning_expected_task_durations') }}
),

tasks as (
    select
        session_id,
        task_id,
        max(case when event_type = 'task_start' then mission_id end) as mission_id,
        min(case when event_type = 'task_start' then occurred_at end) as first_started_at,
        min(case when event_type = 'task_complete' then occurred_at end) as first_completed_at
    from events
    group by session_id, task_id
),

final as (
    select
        tasks.session_id,
        tasks.task_id,
        tasks.mission_id,
        tasks.first_started_at,
        tasks.first_completed_at,
        tasks.first_started_at is not null as is_started,
        tasks.first_started_at is not null and tasks.first_completed_at is not null as is_completed,
        case
            when tasks.first_started_at is not null and tasks.first_completed_at >= tasks.first_started_at
                then cast({{ dbt.datediff('tasks.first_started_at', 'tasks.first_completed_at', 'millisecond') }} as double) / 1000.0
        end as actual_seconds,
        expected.expected_seconds
    from tasks
    left join expected
        on tasks.mission_id = expected.mission_id
        and tasks.task_id = expected.task_id
)

select * from final
{% endmacro %}


{#- One row per failure event (docs/requirements/learning.md#events behavioral events) and whether it was recovered: the next outcome event of
    the same session and task (failure, recovery, success_after_failure or task_complete, in client order:
    sequence, then time) is a success (recovery, success_after_failure, task_complete) rather than another
    failure or nothing. Input of the recovery rate feature.
    int_learning__failure_recoveries and fct_learning_session_features run it over the events of the sessions they
    redo (`events_where`, a condition on stg_learning__events' columns). -#}
{% macro learning_failure_recoveries(events_where='1 = 1') %}
with

outcomes as (
    select
        event_id,
        session_id,
        coalesce(task_id, '') as task_key,
        event_type,
        sequence,
        occurred_at
    from {{ ref('stg_learning__events') }}
    where session_id is not null
        and {{ events_where }}
        and event_type in ('failure', 'recovery', 'success_after_failure', 'task_complete')
),

sequenced as (
    select
        *,
        lead(event_type) over (
            partition by session_id, task_key
            order by sequence, occurred_at, event_id
        ) as next_outcome_type
    from outcomes
),

final as (
    select
        event_id as failure_event_id,
        session_id,
        nullif(task_key, '') as task_id,
        occurred_at as failed_at,
        next_outcome_type,
        coalesce(next_outcome_type in ('recovery', 'success_after_failure', 'task_complete'), false) as is_recovered
    from sequenced
    where event_type = 'failure'
)

select * from final
{% endmacro %}
