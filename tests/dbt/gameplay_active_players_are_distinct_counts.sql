-- WAU and MAU (distinct_players of the weekly and monthly rollups) are distinct counts over the period, not sums
-- of DAU (distinct_players of the daily rollup): each must be at least the period's largest DAU and at most the
-- sum of its DAU. Returns the periods that break either bound.

with

daily as (
    select
        event_date,
        distinct_players as dau
    from {{ ref('agg_gameplay_daily') }}
),

{%- for period, grain in [('week', 'weekly'), ('month', 'monthly')] %}

{{ period }}_bounds as (
    select
        '{{ period }}' as grain,
        rollup.{{ period }}_start as period_start,
        rollup.distinct_players,
        max(daily.dau) as max_dau,
        sum(daily.dau) as sum_dau
    from {{ ref('agg_gameplay_' ~ grain) }} as rollup
    inner join daily
        on {{ period_start(period, 'daily.event_date') }} = rollup.{{ period }}_start
    group by rollup.{{ period }}_start, rollup.distinct_players
),
{%- endfor %}

violations as (
    select * from week_bounds where distinct_players < max_dau or distinct_players > sum_dau
    union all
    select * from month_bounds where distinct_players < max_dau or distinct_players > sum_dau
)

select * from violations
