with

rankings as (
    select
        event_id,
        request_id,
        items
    from {{ ref('stg_recsys__ranking') }}
),

exploded as (
    select
        event_id,
        request_id,
        {{ explode_list('items') }} as item
    from rankings
),

final as (
    select
        exploded.event_id as ranking_event_id,
        exploded.request_id,
        item.canonical_id,
        item.position,
        item.score
    from exploded
)

select * from final
