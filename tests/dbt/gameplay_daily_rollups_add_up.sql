-- The gameplay rollups must agree with their facts: each day's sessions in agg_gameplay_daily equal the sessions of
-- fct_gameplay_sessions that started that day, and each week's / month's additive totals equal the sum of its days.
-- Returns one row per disagreeing period.

with

facts as (
    select
        session_date as event_date,
        count(*) as sessions
    from {{ ref('fct_gameplay_sessions') }}
    group by session_date
),

daily as (
    select
        event_date,
        sessions,
        combat_events,
        deaths
    from {{ ref('agg_gameplay_daily') }}
),

daily_vs_facts as (
    select
        'day' as grain,
        coalesce(daily.event_date, facts.event_date) as period_start,
        coalesce(daily.sessions, 0) as rollup_sessions,
        coalesce(facts.sessions, 0) as expected_sessions
    from daily
    full outer join facts
        on daily.event_date = facts.event_date
),

{%- for period, grain in [('week', 'weekly'), ('month', 'monthly')] %}

{{ period }}_vs_days as (
    select
        '{{ period }}' as grain,
        rollup.{{ period }}_start as period_start,
        rollup.sessions as rollup_sessions,
        days.sessions as expected_sessions
    from {{ ref('agg_gameplay_' ~ grain) }} as rollup
    inner join (
        select
            {{ period_start(period, 'event_date') }} as period_start,
            sum(sessions) as sessions,
            sum(combat_events) as combat_events,
            sum(deaths) as deaths
        from daily
        group by 1
    ) as days
        on rollup.{{ period }}_start = days.period_start
    where rollup.combat_events <> days.combat_events
        or rollup.deaths <> days.deaths
        or rollup.sessions <> days.sessions
),
{%- endfor %}

mismatches as (
    select * from daily_vs_facts where rollup_sessions <> expected_sessions
    union all
    select * from week_vs_days
    union all
    select * from month_vs_days
)

select * from mismatches
