{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

{#- KPI inputs are reweighted totals (Σ value ÷ sample rate, docs/requirements/ability.md#sampling), so a sampled metric does not bias a
    ratio; they equal the observed sums for metrics sampled at 1.0 (all KPI inputs by default). A total is null
    when no summary of the row reported the metric. -#}

with

summaries as (
    select
        event_date,
        entry,
        namespace,
        entry_id,
        tier,
        event_id,
        player_key,
        tags
    from {{ ref('stg_ability__metric_summary') }}
    where is_counted  -- an activation once: its final snapshot, or its ticks when it has none (docs/requirements/ability.md#emission-timing)
        and {{ reprocess_filter('event_date') }}
),

metric_values as (
    select
        event_date,
        entry,
        tier,
        metric_key,
        estimated_value
    from {{ ref('int_ability__metric_values') }}
    where
        metric_key in (
            '{{ ability_kpi_input_metrics() | join("', '") }}'
        )
        and {{ reprocess_filter('event_date') }}
),

summary_counts as (
    select
        event_date,
        entry,
        namespace,
        entry_id,
        tier,
        count(*) as events,
        count(distinct player_key) as distinct_players
    from summaries
    group by event_date, entry, namespace, entry_id, tier
),

summary_tags as (
    select distinct
        event_date,
        entry,
        tier,
        tag
    from (
        select
            event_date,
            entry,
            tier,
            {{ explode_list('tags') }} as tag
        from summaries
    ) as exploded
),

tag_lists as (
    select
        event_date,
        entry,
        tier,
        {{ dbt.listagg('tag', "','", 'order by tag') }} as entry_tags
    from summary_tags
    group by event_date, entry, tier
),

totals as (
    select
        event_date,
        entry,
        tier,
        {%- for key in ability_kpi_input_metrics() %}
        sum(case when metric_key = '{{ key }}' then estimated_value end) as {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from metric_values
    group by event_date, entry, tier
),

joined as (
    select
        summary_counts.event_date,
        summary_counts.entry,
        summary_counts.namespace,
        summary_counts.entry_id,
        summary_counts.tier,
        summary_counts.events,
        summary_counts.distinct_players,
        tag_lists.entry_tags,
        {%- for key in ability_kpi_input_metrics() %}
        totals.{{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from summary_counts
    left join totals
        on summary_counts.event_date = totals.event_date
        and summary_counts.entry = totals.entry
        and summary_counts.tier = totals.tier
    left join tag_lists
        on summary_counts.event_date = tag_lists.event_date
        and summary_counts.entry = tag_lists.entry
        and summary_counts.tier = tag_lists.tier
),

final as (
    select
        cast(joined.event_date as date) as event_date,
        cast(joined.entry as string) as entry,
        cast(joined.namespace as string) as namespace,
        cast(joined.entry_id as string) as entry_id,
        cast(joined.tier as bigint) as tier,
        cast(joined.entry_tags as string) as entry_tags,
        cast(joined.events as bigint) as events,
        cast(joined.distinct_players as bigint) as distinct_players,
        {%- for key in ability_kpi_input_metrics() %}
        cast(joined.{{ key }} as double) as {{ key }},
        {%- endfor %}
        {{ ability_kpis('joined') }}
    from joined
)

select * from final
