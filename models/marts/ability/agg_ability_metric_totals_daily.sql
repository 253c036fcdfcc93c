{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
        pre_hook="{{ family_delete_dates_to_reprocess(ability_event_types()) }}",
    )
}}
{{ family_incremental_depends_on() }}
-- depends_on: {{ ref('stg_ability__metric_summary') }}
{{ guard_incremental_full_refresh(ability_event_types(), ref('stg_ability__metric_summary'), "'ability_metric_summary'") }}

with

{% if is_incremental() -%}
dates_to_reprocess as (
    {{ family_dates_to_reprocess(ability_event_types()) }}
),
{%- endif %}

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
    {%- if is_incremental() %}
    where event_date in (select event_date from dates_to_reprocess)
    {%- endif %}
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(entry as varchar) as entry,
        cast(namespace as varchar) as namespace,
        cast(tier as bigint) as tier,
        cast(metric_key as varchar) as metric_key,
        cast(metric_type as varchar) as metric_type,
        cast(unit as varchar) as unit,
        cast(count(*) as bigint) as summaries_reporting,
        cast(sum(metric_value) as double) as observed_total,
        cast(sum(estimated_value) as double) as estimated_total,
        cast(max(metric_value) as double) as observed_max,
        cast(min(sample_rate) as double) as sample_rate_min,
        cast(max(sample_rate) as double) as sample_rate_max,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from metric_values
    group by event_date, entry, namespace, tier, metric_key, metric_type, unit
)

select * from final
