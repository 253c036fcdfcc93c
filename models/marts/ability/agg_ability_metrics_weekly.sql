{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        pre_hook="{{ family_delete_dates_to_reprocess(ability_event_types(), 'week') }}",
    )
}}
{{ family_incremental_depends_on() }}
-- depends_on: {{ ref('stg_ability__metric_summary') }}
{{ guard_incremental_full_refresh(ability_event_types(), ref('stg_ability__metric_summary'), "'ability_metric_summary'") }}

{#- Rolled up from agg_ability_metrics_daily: the reweighted totals are additive, the KPIs are recomputed from
    the weekly totals (never averaged from daily ratios), distinct players come from the player-day table. -#}
{%- set week_of_date = period_start('week', 'event_date') %}

with

{% if is_incremental() -%}
weeks_to_reprocess as (
    select distinct {{ period_start('week', 'dates_to_reprocess.event_date') }} as week_start
    from (
        {{ family_dates_to_reprocess(ability_event_types()) }}
    ) as dates_to_reprocess
),
{%- endif %}

daily as (
    select
        {{ week_of_date }} as week_start,
        entry,
        namespace,
        entry_id,
        tier,
        summaries,
        {%- for key in ability_kpi_input_metrics() %}
        {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('agg_ability_metrics_daily') }}
    {%- if is_incremental() %}
    where {{ week_of_date }} in (select week_start from weeks_to_reprocess)
    {%- endif %}
),

player_days as (
    select
        {{ week_of_date }} as week_start,
        entry,
        tier,
        player_key
    from {{ ref('int_ability__player_days') }}
    {%- if is_incremental() %}
    where {{ week_of_date }} in (select week_start from weeks_to_reprocess)
    {%- endif %}
),

weekly_totals as (
    select
        week_start,
        entry,
        namespace,
        entry_id,
        tier,
        sum(summaries) as summaries,
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
        cast(weekly_totals.entry as varchar) as entry,
        cast(weekly_totals.namespace as varchar) as namespace,
        cast(weekly_totals.entry_id as varchar) as entry_id,
        cast(weekly_totals.tier as bigint) as tier,
        cast(weekly_totals.summaries as bigint) as summaries,
        cast(coalesce(weekly_players.distinct_players, 0) as bigint) as distinct_players,
        {%- for key in ability_kpi_input_metrics() %}
        cast(weekly_totals.{{ key }} as double) as {{ key }},
        {%- endfor %}
        {{ ability_kpis('weekly_totals') }},
        {{ ledger_stamp(['agg_ability_metrics_daily', 'int_ability__player_days']) }} as _ledger_finished_at_max
    from weekly_totals
    left join weekly_players
        on weekly_totals.week_start = weekly_players.week_start
        and weekly_totals.entry = weekly_players.entry
        and weekly_totals.tier = weekly_players.tier
)

select * from final
