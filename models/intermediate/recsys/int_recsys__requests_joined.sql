with

requests as (
    select
        event_id,
        request_id,
        experiment_id,
        bucket,
        player_key,
        requested_items,
        occurred_at,
        event_date,
        received_at
    from {{ ref('stg_recsys__request') }}
),

rankings as (
    select
        event_id,
        request_id,
        experiment_id,
        bucket,
        algorithm,
        latency_ms,
        catalog_size,
        ranked_items,
        occurred_at,
        received_at
    from {{ ref('stg_recsys__ranking') }}
),

-- one event per request_id: a producer that resends a request under a new event_id gets its first copy
-- (the 1:1 contract test reports such keys)
first_requests as (
    {{ deduplicate('requests', partition_by='request_id', order_by='occurred_at, received_at, event_id') }}
),

first_rankings as (
    {{ deduplicate('rankings', partition_by='request_id', order_by='occurred_at, received_at, event_id') }}
),

joined as (
    select
        first_requests.request_id,
        first_requests.event_id as request_event_id,
        first_requests.event_date,
        first_requests.occurred_at as requested_at,
        first_requests.experiment_id,
        first_requests.bucket,
        first_requests.player_key,
        first_requests.requested_items,
        first_rankings.event_id as ranking_event_id,
        first_rankings.occurred_at as ranked_at,
        first_rankings.algorithm,
        first_rankings.latency_ms,
        first_rankings.catalog_size,
        first_rankings.ranked_items,
        first_rankings.experiment_id as ranking_experiment_id,
        first_rankings.bucket as ranking_bucket
    from first_requests
    left join first_rankings
        on first_requests.request_id = first_rankings.request_id
),

final as (
    select
        request_id,
        request_event_id,
        event_date,
        requested_at,
        experiment_id,
        bucket,
        player_key,
        requested_items,
        ranking_event_id is not null as has_ranking,
        ranking_event_id,
        ranked_at,
        algorithm,
        latency_ms,
        catalog_size,
        ranked_items,
        -- the ranking may omit experiment_id/bucket; when it states them they must match the request's
        coalesce(ranking_experiment_id = experiment_id, true)
            and coalesce(ranking_bucket = bucket, true) as is_experiment_consistent
    from joined
)

select * from final
