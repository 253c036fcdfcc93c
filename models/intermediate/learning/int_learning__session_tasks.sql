{#- One row per (session, task) with a task event: when the session first started and first completed the task,
    and the task's expected duration (seed learning_expected_task_durations). Input of the task completion rate
    and time efficiency features (seed 004). -#}

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
