{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

with

requests as (
    select
        event_date,
        experiment_id,
        bucket,
        request_id,
        latency_ms,
        catalog_size
    from {{ ref('fct_recsys_requests') }}
    where {{ reprocess_filter('event_date') }}
),

impressions as (
    select
        event_date,
        experiment_id,
        bucket,
        canonical_id,
        catalog_size,
        is_clicked,
        dwell_ms
    from {{ ref('fct_recsys_impressions') }}
    where {{ reprocess_filter('event_date') }}
),

errors as (
    select
        event_date,
        experiment_id,
        bucket
    from {{ ref('int_recsys__errors_attributed') }}
    where {{ reprocess_filter('event_date') }}
),

request_totals as (
    select
        event_date,
        experiment_id,
        bucket,
        count(*) as requests,
        max(catalog_size) as catalog_items,
        {{ percentile('latency_ms', 0.5) }} as latency_p50_ms,
        {{ percentile('latency_ms', 0.95) }} as latency_p95_ms,
        {{ percentile('latency_ms', 0.99) }} as latency_p99_ms
    from requests
    group by event_date, experiment_id, bucket
),

impression_totals as (
    select
        event_date,
        experiment_id,
        bucket,
        count(*) as impressions,
        sum(case when is_clicked then 1 else 0 end) as clicks,
        count(distinct canonical_id) as items_shown,
        avg(case when is_clicked then dwell_ms end) as mean_dwell_ms
    from impressions
    group by event_date, experiment_id, bucket
),

error_totals as (
    select
        event_date,
        experiment_id,
        bucket,
        count(*) as errors
    from errors
    group by event_date, experiment_id, bucket
),

groups as (
    select
event_date,
experiment_id,
bucket
from request_totals
    union
    select
event_date,
experiment_id,
bucket
from impression_totals
    union
    select
event_date,
experiment_id,
bucket
from error_totals
),

-- the whole request funnel of the day over every position; per-position rows are agg_recsys_positions_daily
all_positions as (
    select
        groups.event_date,
        groups.experiment_id,
        groups.bucket,
        coalesce(request_totals.requests, 0) as requests,
        coalesce(impression_totals.impressions, 0) as impressions,
        coalesce(impression_totals.clicks, 0) as clicks,
        coalesce(impression_totals.items_shown, 0) as items_shown,
        request_totals.catalog_items,
        request_totals.latency_p50_ms,
        request_totals.latency_p95_ms,
        request_totals.latency_p99_ms,
        coalesce(error_totals.errors, 0) as errors,
        impression_totals.mean_dwell_ms
    from groups
    left join request_totals
        on groups.event_date = request_totals.event_date
        and groups.experiment_id = request_totals.experiment_id
        and groups.bucket = request_totals.bucket
    left join impression_totals
        on groups.event_date = impression_totals.event_date
        and groups.experiment_id = impression_totals.experiment_id
        and groups.bucket = impression_totals.bucket
    left join error_totals
        on groups.event_date = error_totals.event_date
        and groups.experiment_id = error_totals.experiment_id
        and groups.bucket = error_totals.bucket
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(experiment_id as string) as experiment_id,
        cast(bucket as string) as bucket,
        cast(requests as bigint) as requests,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        cast(items_shown as bigint) as items_shown,
        cast(catalog_items as bigint) as catalog_items,
        {{ safe_divide('items_shown', 'catalog_items') }} as coverage,
        cast(latency_p50_ms as double) as latency_p50_ms,
        cast(latency_p95_ms as double) as latency_p95_ms,
        cast(latency_p99_ms as double) as latency_p99_ms,
        cast(errors as bigint) as errors,
        {{ safe_divide('errors', 'requests') }} as error_rate,
        {{ safe_divide('impressions', 'requests') }} as impressions_per_request,
        cast(mean_dwell_ms as double) as mean_dwell_ms
    from all_positions
)

select * from final
