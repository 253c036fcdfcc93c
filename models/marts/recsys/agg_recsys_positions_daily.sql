{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

{#- The impression measures of a day broken down by the slot the item was shown in. Request-level measures
    (latency, errors) have no position: they live in agg_recsys_daily only. -#}

with

impressions as (
    select
        event_date,
        experiment_id,
        bucket,
        request_id,
        position,
        canonical_id,
        catalog_size,
        is_clicked,
        dwell_ms
    from {{ ref('fct_recsys_impressions') }}
    where {{ reprocess_filter('event_date') }}
),

by_position as (
    select
        event_date,
        experiment_id,
        bucket,
        position,
        count(distinct request_id) as requests,
        count(*) as impressions,
        sum(case when is_clicked then 1 else 0 end) as clicks,
        count(distinct canonical_id) as items_shown,
        max(catalog_size) as catalog_items,
        avg(case when is_clicked then dwell_ms end) as mean_dwell_ms
    from impressions
    group by event_date, experiment_id, bucket, position
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(experiment_id as string) as experiment_id,
        cast(bucket as string) as bucket,
        cast(position as bigint) as position,
        cast(requests as bigint) as requests,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        {{ safe_divide('clicks', 'impressions') }} as ctr,
        cast(items_shown as bigint) as items_shown,
        cast(catalog_items as bigint) as catalog_items,
        {{ safe_divide('items_shown', 'catalog_items') }} as coverage,
        cast(mean_dwell_ms as double) as mean_dwell_ms
    from by_position
)

select * from final
