{{ config(materialized='incremental', unique_key='event_date', on_schema_change='append_new_columns') }}

with

impressions as (
    select
        impression_key,
        impression_event_id,
        request_id,
        event_date,
        impression_date,
        experiment_id,
        bucket,
        canonical_id,
        position,
        visible_ms,
        surface,
        device_type,
        impressed_at,
        catalog_size,
        has_request,
        has_ranking,
        is_position_consistent,
        is_experiment_consistent,
        is_clicked,
        click_event_id,
        clicked_at,
        engagement_type,
        dwell_ms
    from {{ ref('int_recsys__impressions_joined') }}
    where {{ reprocess_filter('event_date') }}
),

final as (
    select
        *
    from impressions
)

select * from final
