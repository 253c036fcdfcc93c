-- docs/requirements/learning.md#features extracts features when a session is closed: every row of fct_learning_session_features must belong to a
-- session fct_learning_sessions holds as closed, with the same event count. Returns the offending sessions.

select
    features.session_id,
    sessions.is_closed,
    features.events as feature_events,
    sessions.events as session_events
from {{ ref('fct_learning_session_features') }} as features
left join {{ ref('fct_learning_sessions') }} as sessions
    on features.session_id = sessions.session_id
where sessions.session_id is null
    or not sessions.is_closed
    or features.events <> sessions.events
