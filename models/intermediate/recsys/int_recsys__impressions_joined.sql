with

impressions as (
    select
        event_id,
        impression_key,
        request_id,
        experiment_id,
        bucket,
        canonical_id,
        position,
        visible_ms,
        surface,
        device_type,
        occurred_at,
        event_date,
        received_at
    from {{ ref('stg_recsys__impression') }}
),

clicks as (
    select
        event_id,
        impression_key,
        engagement_type,
        dwell_ms,
        occurred_at,
        received_at
    from {{ ref('stg_recsys__click') }}
),

requests as (
    select
        request_id,
        event_date,
        experiment_id,
        bucket,
        has_ranking,
        catalog_size
    from {{ ref('int_recsys__requests_joined') }}
),

ranking_items as (
    select distinct
        request_id,
        canonical_id,
        position
    from {{ ref('int_recsys__ranking_items_unnested') }}
),

-- one impression and at most one click per (request, item): the first of each (the 0:1 contract test
-- reports impressions with several clicks)
first_impressions as (
    {{ deduplicate('impressions', partition_by='impression_key', order_by='occurred_at, received_at, event_id') }}
),

first_clicks as (
    {{ deduplicate('clicks', partition_by='impression_key', order_by='occurred_at, received_at, event_id') }}
),

final as (
    select
        first_impressions.impression_key,
        first_impressions.event_id as impression_event_id,
        first_impressions.request_id,
        -- attributed to the request: its date, experiment and bucket; an impression without a (landed)
        -- request keeps its own
        coalesce(requests.event_date, first_impressions.event_date) as event_date,
        first_impressions.event_date as impression_date,
        coalesce(requests.experiment_id, first_impressions.experiment_id, '(unattributed)') as experiment_id,
        coalesce(requests.bucket, first_impressions.bucket, '(unattributed)') as bucket,
        first_impressions.canonical_id,
        first_impressions.position,
        first_impressions.visible_ms,
        first_impressions.surface,
        first_impressions.device_type,
        first_impressions.occurred_at as impressed_at,
        requests.catalog_size,
        requests.request_id is not null as has_request,
        coalesce(requests.has_ranking, false) as has_ranking,
        ranking_items.position is not null as is_position_consistent,
        coalesce(first_impressions.experiment_id = requests.experiment_id, true)
            and coalesce(first_impressions.bucket = requests.bucket, true) as is_experiment_consistent,
        first_clicks.event_id is not null as is_clicked,
        first_clicks.event_id as click_event_id,
        first_clicks.occurred_at as clicked_at,
        first_clicks.engagement_type,
        first_clicks.dwell_ms
    from first_impressions
    left join requests
        on first_impressions.request_id = requests.request_id
    left join ranking_items
        on first_impressions.request_id = ranking_items.request_id
        and first_impressions.canonical_id = ranking_items.canonical_id
        and first_impressions.position = ranking_items.position
    left join first_clicks
        on first_impressions.impression_key = first_clicks.impression_key
)

select * from final
