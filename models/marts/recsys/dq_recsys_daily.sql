{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date'}) }}

{#- The docs/requirements/recsys.md#data-quality data-quality rates per event type and day (docs/warehouse.md "Data quality in dbt"). Each event
    is judged on its own (event_date = its own UTC date); its request chain is read whole, so a late partner
    changes the rate of the days it judges (meta.reprocess.chain redoes them). -#}
{%- set uuid_v4 = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}' -%}
{%- set hex_64 = '[0-9a-f]{64}' -%}
{%- set devices = "('mobile', 'desktop', 'tablet', 'tv', 'console', 'other')" -%}
{%- set sla_seconds = (var('recsys_timeliness_sla_hours', 24) | float) * 3600 -%}

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
received_at,
           event_date
    from {{ ref('stg_recsys__request') }}
),

rankings as (
    select
event_id,
request_id,
experiment_id,
bucket,
player_key,
algorithm,
latency_ms,
catalog_size,
           ranked_items,
occurred_at,
received_at,
event_date
    from {{ ref('stg_recsys__ranking') }}
),

impressions as (
    select
event_id,
impression_key,
request_id,
experiment_id,
bucket,
player_key,
canonical_id,
position,
           device_type,
occurred_at,
received_at,
event_date
    from {{ ref('stg_recsys__impression') }}
),

clicks as (
    select
event_id,
impression_key,
request_id,
experiment_id,
bucket,
player_key,
canonical_id,
           engagement_type,
dwell_ms,
device_type,
occurred_at,
received_at,
event_date
    from {{ ref('stg_recsys__click') }}
),

errors as (
    select
event_id,
request_id,
experiment_id,
bucket,
player_key,
component,
severity,
error_code,
           occurred_at,
received_at,
event_date
    from {{ ref('stg_recsys__error') }}
),

-- one request / ranking / impression per key to judge the others against (the first, as the facts pick)
first_requests as (
    select *
    from (
        select
            requests.*,
            row_number()
                over (
                    partition by requests.request_id
                    order by requests.occurred_at, requests.received_at, requests.event_id
                )
                as key_rank
        from requests
    ) as ranked
    where key_rank = 1
),

first_rankings as (
    select *
    from (
        select
            rankings.*,
            row_number()
                over (
                    partition by rankings.request_id
                    order by rankings.occurred_at, rankings.received_at, rankings.event_id
                )
                as key_rank
        from rankings
    ) as ranked
    where key_rank = 1
),

first_impressions as (
    select *
    from (
        select
            impressions.*,
            row_number()
                over (
                    partition by impressions.impression_key
                    order by impressions.occurred_at, impressions.received_at, impressions.event_id
                )
                as key_rank
        from impressions
    ) as ranked
    where key_rank = 1
),

ranked_items as (
    select distinct
request_id,
canonical_id,
position
    from {{ ref('int_recsys__ranking_items_unnested') }}
),

-- per event: each rate's verdict (null = not judged: nothing to compare with)
judged_request as (
    select
        requests.event_date,
        requests.request_id is not null and requests.experiment_id is not null and requests.bucket is not null
            and requests.requested_items is not null as is_complete,
        case when first_rankings.request_id is not null then
            coalesce(first_rankings.experiment_id = requests.experiment_id, true)
            and coalesce(first_rankings.bucket = requests.bucket, true)
            and coalesce(first_rankings.player_key = requests.player_key, true)
            and first_rankings.occurred_at >= requests.occurred_at
        end as is_consistent,
        coalesce({{ regexp_full_match('requests.request_id', uuid_v4) }}, false)
            and coalesce({{ regexp_full_match('requests.player_key', hex_64) }}, true)
            and requests.occurred_at is not null
            and coalesce(requests.requested_items >= 1, true) as is_valid,
        first_rankings.request_id is not null as is_joined,
        requests.occurred_at,
        requests.received_at
    from requests
    left join first_rankings
        on requests.request_id = first_rankings.request_id
),

judged_ranking as (
    select
        rankings.event_date,
        rankings.request_id is not null and rankings.algorithm is not null and rankings.ranked_items >= 1
            as is_complete,
        case when first_requests.request_id is not null then
            coalesce(rankings.experiment_id = first_requests.experiment_id, true)
            and coalesce(rankings.bucket = first_requests.bucket, true)
            and coalesce(rankings.player_key = first_requests.player_key, true)
            and rankings.occurred_at >= first_requests.occurred_at
        end as is_consistent,
        coalesce({{ regexp_full_match('rankings.request_id', uuid_v4) }}, false)
            and coalesce({{ regexp_full_match('rankings.player_key', hex_64) }}, true)
            and rankings.occurred_at is not null
            and coalesce(rankings.latency_ms >= 0, true)
            and coalesce(rankings.catalog_size >= 1, true) as is_valid,
        first_requests.request_id is not null as is_joined,
        rankings.occurred_at,
        rankings.received_at
    from rankings
    left join first_requests
        on rankings.request_id = first_requests.request_id
),

judged_impression as (
    select
        impressions.event_date,
        impressions.request_id is not null and impressions.canonical_id is not null
            and impressions.position is not null as is_complete,
        case when first_requests.request_id is not null or first_rankings.request_id is not null then
            coalesce(impressions.experiment_id = first_requests.experiment_id, true)
            and coalesce(impressions.bucket = first_requests.bucket, true)
            and coalesce(impressions.player_key = first_requests.player_key, true)
            and coalesce(impressions.occurred_at >= first_requests.occurred_at, true)
            -- positions match the ranking (when the ranking landed)
            and (first_rankings.request_id is null or ranked_items.request_id is not null)
        end as is_consistent,
        coalesce({{ regexp_full_match('impressions.request_id', uuid_v4) }}, false)
            and coalesce({{ regexp_full_match('impressions.player_key', hex_64) }}, true)
            and impressions.occurred_at is not null
            and coalesce(impressions.position >= 1, true)
            and coalesce(impressions.device_type in {{ devices }}, true) as is_valid,
        first_requests.request_id is not null and first_rankings.request_id is not null as is_joined,
        impressions.occurred_at,
        impressions.received_at
    from impressions
    left join first_requests
        on impressions.request_id = first_requests.request_id
    left join first_rankings
        on impressions.request_id = first_rankings.request_id
    left join ranked_items
        on impressions.request_id = ranked_items.request_id
        and impressions.canonical_id = ranked_items.canonical_id
        and impressions.position = ranked_items.position
),

judged_click as (
    select
        clicks.event_date,
        clicks.request_id is not null and clicks.canonical_id is not null and clicks.engagement_type is not null
            as is_complete,
        case when first_impressions.impression_key is not null then
            coalesce(clicks.experiment_id = first_impressions.experiment_id, true)
            and coalesce(clicks.bucket = first_impressions.bucket, true)
            and coalesce(clicks.player_key = first_impressions.player_key, true)
            and clicks.occurred_at >= first_impressions.occurred_at
        end as is_consistent,
        coalesce({{ regexp_full_match('clicks.request_id', uuid_v4) }}, false)
            and coalesce({{ regexp_full_match('clicks.player_key', hex_64) }}, true)
            and clicks.occurred_at is not null
            and coalesce(clicks.engagement_type in ('click', 'add_to_cart', 'purchase', 'save', 'share'), false)
            and coalesce(clicks.device_type in {{ devices }}, true)
            and coalesce(clicks.dwell_ms >= 0, true) as is_valid,
        first_impressions.impression_key is not null as is_joined,
        clicks.occurred_at,
        clicks.received_at
    from clicks
    left join first_impressions
        on clicks.impression_key = first_impressions.impression_key
),

judged_error as (
    select
        errors.event_date,
        errors.component is not null and errors.severity is not null and errors.error_code is not null
            as is_complete,
        case when first_requests.request_id is not null then
            coalesce(errors.experiment_id = first_requests.experiment_id, true)
            and coalesce(errors.bucket = first_requests.bucket, true)
        end as is_consistent,
        coalesce({{ regexp_full_match('errors.request_id', uuid_v4) }}, errors.request_id is null)
            and coalesce({{ regexp_full_match('errors.player_key', hex_64) }}, true)
            and errors.occurred_at is not null
            and coalesce(errors.severity in ('debug', 'info', 'warning', 'error', 'critical'), false) as is_valid,
        -- an error names a request only sometimes (service errors have none): judged when it does
        case when errors.request_id is not null then first_requests.request_id is not null end as is_joined,
        errors.occurred_at,
        errors.received_at
    from errors
    left join first_requests
        on errors.request_id = first_requests.request_id
),

-- one branch per registry type of the family; a new type needs its rules above
judged as (
    {%- for event_type in registry_event_categories('recsys') %}
    select
        'recsys_{{ event_type }}' as event_type,
        judged_{{ event_type }}.*
    from judged_{{ event_type }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
),

in_scope as (
    select
        event_type,
        event_date,
        is_complete,
        is_consistent,
        is_valid,
        is_joined,
        {{ dbt.datediff('occurred_at', 'received_at', 'second') }} <= {{ sla_seconds }} as is_timely
    from judged
    where {{ reprocess_filter('event_date') }}
),

final as (
    select
        cast(event_type as string) as event_type,
        cast(event_date as date) as event_date,
        cast(count(*) as bigint) as events,
        cast(avg(case when is_complete then 1.0 else 0.0 end) as double) as completeness_rate,
        cast(count(is_consistent) as bigint) as consistency_judged,
        cast(avg(case when is_consistent then 1.0 when not is_consistent then 0.0 end) as double) as consistency_rate,
        cast(avg(case when is_valid then 1.0 else 0.0 end) as double) as validity_rate,
        cast(count(is_joined) as bigint) as join_integrity_judged,
        cast(avg(case when is_joined then 1.0 when not is_joined then 0.0 end) as double) as join_integrity_rate,
        cast(avg(case when is_timely then 1.0 else 0.0 end) as double) as timeliness_rate
    from in_scope
    group by event_type, event_date
)

select * from final
