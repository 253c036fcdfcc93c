{#- Body of agg_recsys_weekly / agg_recsys_monthly: one row per (<period>_start, experiment_id, bucket), exact.
    Additive counts are summed from agg_recsys_daily (one row per day, experiment and bucket) (aggregates outlive raw data, docs/requirements/design.md#retention, docs/requirements/design.md#incremental) and the ratios recomputed from those sums; latency percentiles come from fct_recsys_requests and
    distinct items shown / mean dwell from fct_recsys_impressions over the whole period, never averaged from
    daily values. Incremental: reads only the days of the periods this run redoes (reprocess_filter). -#}
{% macro recsys_period_rollup(period) %}
{%- set period_column = period ~ '_start' -%}
{%- set period_of_event = period_start(period, 'event_date') -%}
with

daily as (
    select
        {{ period_of_event }} as period_start,
        experiment_id,
        bucket,
        requests,
        impressions,
        clicks,
        errors,
        catalog_items
    from {{ ref('agg_recsys_daily') }}
    where {{ reprocess_filter('event_date', period=period) }}
),

requests as (
    select
        {{ period_of_event }} as period_start,
        experiment_id,
        bucket,
        latency_ms
    from {{ ref('fct_recsys_requests') }}
    where {{ reprocess_filter('event_date', period=period) }}
),

impressions as (
    select
        {{ period_of_event }} as period_start,
        experiment_id,
        bucket,
        canonical_id,
        is_clicked,
        dwell_ms
    from {{ ref('fct_recsys_impressions') }}
    where {{ reprocess_filter('event_date', period=period) }}
),

daily_totals as (
    select
        period_start,
        experiment_id,
        bucket,
        sum(requests) as requests,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(errors) as errors,
        max(catalog_items) as catalog_items
    from daily
    group by period_start, experiment_id, bucket
),

latency as (
    select
        period_start,
        experiment_id,
        bucket,
        {{ percentile('latency_ms', 0.5) }} as latency_p50_ms,
        {{ percentile('latency_ms', 0.95) }} as latency_p95_ms,
        {{ percentile('latency_ms', 0.99) }} as latency_p99_ms
    from requests
    group by period_start, experiment_id, bucket
),

items as (
    select
        period_start,
        experiment_id,
        bucket,
        count(distinct canonical_id) as items_shown,
        avg(case when is_clicked then dwell_ms end) as mean_dwell_ms
    from impressions
    group by period_start, experiment_id, bucket
),

final as (
    select
        cast(daily_totals.period_start as date) as {{ period_column }},
        cast(daily_totals.experiment_id as string) as experiment_id,
        cast(daily_totals.bucket as string) as bucket,
        cast(daily_totals.requests as bigint) as requests,
        cast(daily_totals.impressions as bigint) as impressions,
        cast(daily_totals.clicks as bigint) as clicks,
        {{ safe_divide('daily_totals.clicks', 'daily_totals.impressions') }} as ctr,
        cast(coalesce(items.items_shown, 0) as bigint) as items_shown,
        cast(daily_totals.catalog_items as bigint) as catalog_items,
        {{ safe_divide('coalesce(items.items_shown, 0)', 'daily_totals.catalog_items') }} as coverage,
        cast(latency.latency_p50_ms as double) as latency_p50_ms,
        cast(latency.latency_p95_ms as double) as latency_p95_ms,
        cast(latency.latency_p99_ms as double) as latency_p99_ms,
        cast(daily_totals.errors as bigint) as errors,
        {{ safe_divide('daily_totals.errors', 'daily_totals.requests') }} as error_rate,
        {{ safe_divide('daily_totals.impressions', 'daily_totals.requests') }} as impressions_per_request,
        cast(items.mean_dwell_ms as double) as mean_dwell_ms
    from daily_totals
    left join latency
        on daily_totals.period_start = latency.period_start
        and daily_totals.experiment_id = latency.experiment_id
        and daily_totals.bucket = latency.bucket
    left join items
        on daily_totals.period_start = items.period_start
        and daily_totals.experiment_id = items.experiment_id
        and daily_totals.bucket = items.bucket
)

select * from final
{% endmacro %}
