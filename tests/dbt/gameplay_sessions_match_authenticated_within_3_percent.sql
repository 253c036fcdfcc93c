-- docs/requirements/gameplay.md#data-quality: on every day, analytics sessions must be within 3% of the sessions the operational source
-- authenticated. Warn level: returns the flagged days of dq_gameplay_sessions_daily (a flag is an alert, not a broken
-- build).
{{ config(severity='warn') }}

select
    session_date,
    analytics_sessions,
    authenticated_sessions,
    variance_rate
from {{ ref('dq_gameplay_sessions_daily') }}
where is_flagged
