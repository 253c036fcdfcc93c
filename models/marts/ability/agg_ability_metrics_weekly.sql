{{ config(materialized='incremental', unique_key='week_start', meta={'grain': 'weekly', 'retention_key': 'week_start'}) }}

{#- Rolled up from agg_ability_metrics_daily: the reweighted totals are additive, the KPIs are recomputed from
    the weekly totals (never averaged from daily ratios), distinct players come from the player-day table. -#}
{%- set week_of_date = period_start('week', 'event_date') %}

with

daily as (
    select
        {{ week_of_date }} as week_start,
        entry,
        namespace,
        entry_id,
        tier,
        events,
        {%- for key in ability_kpi_input_metrics() %}
        {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('agg_ability_metrics_daily') }}
    where {{ reprocess_filter('event_date', period='week') }}
),

player_days as (
    select
        {{ week_of_date }} as week_start,
        entry,
        tier,
        player_key
    from {{ ref('int_ability__player_days') }}
    where {{ reprocess_filter('event_date', period='week') }}
),

weekly_totals as (
    select
        week_start,
        entry,
        namespace,
        entry_id,
        tier,
        sum(events) as events,
        {%- for key in ability_kpi_input_metrics() %}
        sum({{ key }}) as {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from daily
    group by week_start, entry, namespace, entry_id, tier
),

weekly_players as (
    select
        week_start,
        entry,
        tier,
        count(distinct player_key) as distinct_players
    from player_days
    group by week_start, entry, tier
),

final as (
    select
        cast(weekly_totals.week_start as date) as week_start,
        cast(weekly_totals.entry as string) as entry,
        cast(weekly_totals.namespace as string) as namespace,
        cast(weekly_totals.entry_id as string) as entry_id,
        cast(weekly_totals.tier as bigint) as tier,
        cast(weekly_totals.events as bigint) as events,
        cast(coalesce(weekly_players.distinct_players, 0) as bigint) as distinct_players,
        {%- for key in ability_kpi_input_metrics() %}
        cast(weekly_totals.{{ key }} as double) as {{ key }},
        {%- endfor %}
        {{ ability_kpis('weekly_totals') }}
    from weekly_totals
    left join weekly_players
        on weekly_totals.week_start = weekly_players.week_start
        and weekly_totals.entry = weekly_players.entry
        and weekly_totals.tier = weekly_players.tier
)

select * from final
