-- WAU and MAU are distinct counts over the period, not sums of DAU: each must be at least the period's largest DAU
-- and at most the sum of its DAU. Returns the periods that break either bound.

with

daily as (
    select
        event_date,
        dau
    from {{ ref('agg_gameplay_daily') }}
),

{%- for period, grain, column in [('week', 'weekly', 'wau'), ('month', 'monthly', 'mau')] %}

{{ period }}_bounds as (
    select
        '{{ period }}' as grain,
        rollup.{{ period }}_start as period_start,
        rollup.{{ column }} as active_players,
        max(daily.dau) as max_dau,
        sum(daily.dau) as sum_dau
    from {{ ref('agg_gameplay_' ~ grain) }} as rollup
    inner join daily
        on {{ period_start(period, 'daily.event_date') }} = rollup.{{ period }}_start
    group by rollup.{{ period }}_start, rollup.{{ column }}
),
{%- endfor %}

violations as (
    select * from week_bounds where active_players < max_dau or active_players > sum_dau
    union all
    select * from month_bounds where active_players < max_dau or active_players > sum_dau
)

select * from violations
