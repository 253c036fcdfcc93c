-- Every learning event with a session belongs to exactly one row of fct_learning_sessions, whose event count equals
-- the events staged for that session. Returns the sessions whose counts differ or that are missing.

with

staged as (
    select
        session_id,
        count(*) as events
    from {{ ref('stg_learning__events') }}
    where session_id is not null
    group by session_id
)

select
    coalesce(staged.session_id, sessions.session_id) as session_id,
    staged.events as staged_events,
    sessions.events as session_events
from staged
full outer join {{ ref('fct_learning_sessions') }} as sessions
    on staged.session_id = sessions.session_id
where staged.events is distinct from sessions.events
