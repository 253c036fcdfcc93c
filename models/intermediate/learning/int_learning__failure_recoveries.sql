{#- One row per failure event (seed 004 behavioral events) and whether it was recovered: the next outcome event of
    the same session and task (failure, recovery, success_after_failure or task_complete, in client order:
    sequence, then time) is a success (recovery, success_after_failure, task_complete) rather than another
    failure or nothing. Input of the recovery rate feature. -#}

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
