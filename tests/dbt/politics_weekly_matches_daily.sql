-- agg_politics_weekly is rolled up from agg_politics_daily (docs/requirements/politics.md#aggregates): for every (week, type, scope,
-- scope_id) the weekly event, outcome and success counts and value count equal the sums of the daily rows,
-- and no weekly row lacks daily rows. Mismatching keys are returned. Only weeks the daily table still fully
-- covers are compared (daily rows expire after 180 days, weekly ones after 365).
with

daily as (
    select
        {{ period_start('week', 'event_date') }} as week_start,
        event_type,
        scope,
        scope_id,
        sum(events) as events,
        sum(coalesce(outcome_count, 0)) as outcome_count,
        sum(coalesce(success_count, 0)) as success_count,
        sum(value_count) as value_count
    from {{ ref('agg_politics_daily') }}
    where {{ period_start('week', 'event_date') }} >= (select min(event_date) from {{ ref('agg_politics_daily') }})
    group by {{ period_start('week', 'event_date') }}, event_type, scope, scope_id
),

weekly as (
    select
        week_start,
        event_type,
        scope,
        scope_id,
        events,
        coalesce(outcome_count, 0) as outcome_count,
        coalesce(success_count, 0) as success_count,
        value_count
    from {{ ref('agg_politics_weekly') }}
    where week_start >= (select min(event_date) from {{ ref('agg_politics_daily') }})
),

final as (
    select
        coalesce(weekly.week_start, daily.week_start) as week_start,
        coalesce(weekly.event_type, daily.event_type) as event_type,
        coalesce(weekly.scope, daily.scope) as scope,
        coalesce(weekly.scope_id, daily.scope_id) as scope_id,
        weekly.events as weekly_event_count,
        daily.events as daily_event_count
    from weekly
    full outer join daily
        on weekly.week_start = daily.week_start
        and weekly.event_type = daily.event_type
        and weekly.scope = daily.scope
        and weekly.scope_id = daily.scope_id
    where weekly.events is distinct from daily.events
        or weekly.outcome_count is distinct from daily.outcome_count
        or weekly.success_count is distinct from daily.success_count
        or weekly.value_count is distinct from daily.value_count
)

select * from final
