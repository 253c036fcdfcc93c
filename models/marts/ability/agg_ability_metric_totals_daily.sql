{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

with

metric_values as (
    select
        event_date,
        entry,
        namespace,
        tier,
        metric_key,
        metric_type,
        unit,
        metric_value,
        sample_rate,
        estimated_value
    from {{ ref('int_ability__metric_values') }}
    where {{ reprocess_filter('event_date') }}
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(entry as string) as entry,
        cast(namespace as string) as namespace,
        cast(tier as bigint) as tier,
        cast(metric_key as string) as metric_key,
        cast(metric_type as string) as metric_type,
        cast(unit as string) as unit,
        cast(count(*) as bigint) as events_reporting,
        -- a gauge (participants, docs/requirements/ability.md#metric-keys) is not additive: mean and max, never a sum
        cast(case when metric_type = 'gauge' then null else sum(metric_value) end as double) as observed_total,
        cast(case when metric_type = 'gauge' then null else sum(estimated_value) end as double) as estimated_total,
        cast(avg(metric_value) as double) as observed_mean,
        cast(max(metric_value) as double) as observed_max,
        cast(min(sample_rate) as double) as sample_rate_min,
        cast(max(sample_rate) as double) as sample_rate_max
    from metric_values
    group by event_date, entry, namespace, tier, metric_key, metric_type, unit
)

select * from final
