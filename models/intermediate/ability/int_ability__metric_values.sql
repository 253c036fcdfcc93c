{#- The metric unpivot (docs/requirements/design.md#flow): one row per (summary, metric key it reports), with the sample rate that
    applied and the reweighted value (docs/requirements/ability.md#sampling: value ÷ rate estimates the unsampled count). The rate is the
    source rate the line states in meta.sample_rates, else the registry default (seed ability_metric_registry),
    times the ingest sample rate of the envelope. -#}

with

summaries as (
    select
        event_id,
        event_date,
        player_key,
        entry,
        namespace,
        entry_id,
        tier,
        sample_rate,
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        {{ key }},
        {{ key }}_stated_sample_rate{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_ability__metric_summary') }}
    where is_counted  -- ticks of an activation with a final snapshot are not counted again (docs/requirements/ability.md#emission-timing)
),

registry as (
    select
        metric_key,
        metric_type,
        unit,
        default_sample_rate
    from {{ ref('ability_metric_registry') }}
),

unpivoted as (
    select
        event_id,
        event_date,
        player_key,
        entry,
        namespace,
        entry_id,
        tier,
        sample_rate as ingest_sample_rate,
        {%- set rows = [] %}
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        {%- do rows.append(["'" ~ key ~ "'", 'cast(' ~ key ~ ' as double)', 'cast(' ~ key ~ '_stated_sample_rate as double)']) %}
        {%- endfor %}
        {{ unpivot_named_values(['metric_key', 'metric_value', 'stated_sample_rate'], rows) }} as metric
    from summaries
),

final as (
    select
        unpivoted.event_id,
        unpivoted.event_date,
        unpivoted.player_key,
        unpivoted.entry,
        unpivoted.namespace,
        unpivoted.entry_id,
        unpivoted.tier,
        unpivoted.metric.metric_key,
        registry.metric_type,
        registry.unit,
        unpivoted.metric.metric_value,
        unpivoted.metric.stated_sample_rate is not null as is_rate_stated,
        coalesce(unpivoted.metric.stated_sample_rate, registry.default_sample_rate) as source_sample_rate,
        unpivoted.ingest_sample_rate,
        coalesce(unpivoted.metric.stated_sample_rate, registry.default_sample_rate)
            * unpivoted.ingest_sample_rate as sample_rate,
        unpivoted.metric.metric_value / (
            coalesce(unpivoted.metric.stated_sample_rate, registry.default_sample_rate)
            * unpivoted.ingest_sample_rate
        ) as estimated_value
    from unpivoted
    inner join registry
        on unpivoted.metric.metric_key = registry.metric_key
    where unpivoted.metric.metric_value is not null
)

select * from final
