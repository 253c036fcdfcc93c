{{ config(materialized='incremental', unique_key='event_date', on_schema_change='append_new_columns') }}

with

requests as (
    select
        request_id,
        request_event_id,
        event_date,
        requested_at,
        experiment_id,
        bucket,
        player_key,
        requested_items,
        has_ranking,
        ranking_event_id,
        algorithm,
        latency_ms,
        catalog_size,
        ranked_items,
        is_experiment_consistent
    from {{ ref('int_recsys__requests_joined') }}
    where {{ reprocess_filter('event_date') }}
),

impressions as (
    select
        request_id,
        is_clicked,
        dwell_ms
    from {{ ref('int_recsys__impressions_joined') }}
    -- an impression of a request carries the request's event_date
    where has_request
        and {{ reprocess_filter('event_date') }}
),

errors as (
    select request_id
    from {{ ref('int_recsys__errors_attributed') }}
    where has_request
        and {{ reprocess_filter('event_date') }}
),

impressions_per_request as (
    select
        request_id,
        count(*) as impressions,
        sum(case when is_clicked then 1 else 0 end) as clicks,
        sum(case when is_clicked then dwell_ms end) as total_dwell_ms
    from impressions
    group by request_id
),

errors_per_request as (
    select
        request_id,
        count(*) as errors
    from errors
    group by request_id
),

final as (
    select
        requests.request_id,
        requests.request_event_id,
        requests.event_date,
        requests.requested_at,
        requests.experiment_id,
        requests.bucket,
        requests.player_key,
        requests.requested_items,
        requests.has_ranking,
        requests.ranking_event_id,
        requests.algorithm,
        requests.latency_ms,
        requests.catalog_size,
        requests.ranked_items,
        cast(coalesce(impressions_per_request.impressions, 0) as bigint) as impressions,
        cast(coalesce(impressions_per_request.clicks, 0) as bigint) as clicks,
        cast(coalesce(impressions_per_request.total_dwell_ms, 0) as bigint) as total_dwell_ms,
        cast(coalesce(errors_per_request.errors, 0) as bigint) as errors,
        requests.is_experiment_consistent
    from requests
    left join impressions_per_request
        on requests.request_id = impressions_per_request.request_id
    left join errors_per_request
        on requests.request_id = errors_per_request.request_id
)

select * from final
