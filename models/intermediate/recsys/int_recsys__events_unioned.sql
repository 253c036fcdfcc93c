with

requests as (
    select event_id, request_id, event_date, batch_id
    from {{ ref('stg_recsys__request') }}
),

rankings as (
    select event_id, request_id, event_date, batch_id
    from {{ ref('stg_recsys__ranking') }}
),

impressions as (
    select event_id, request_id, event_date, batch_id
    from {{ ref('stg_recsys__impression') }}
),

clicks as (
    select event_id, request_id, event_date, batch_id
    from {{ ref('stg_recsys__click') }}
),

errors as (
    select event_id, request_id, event_date, batch_id
    from {{ ref('stg_recsys__error') }}
),

unioned as (
    select 'recsys_request' as event_type, * from requests
    union all
    select 'recsys_ranking' as event_type, * from rankings
    union all
    select 'recsys_impression' as event_type, * from impressions
    union all
    select 'recsys_click' as event_type, * from clicks
    union all
    select 'recsys_error' as event_type, * from errors
),

final as (
    select
        event_type,
        event_id,
        request_id,
        event_date,
        batch_id
    from unioned
)

select * from final
