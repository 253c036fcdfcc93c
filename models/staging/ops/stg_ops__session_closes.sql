with

source as (
    select
        session_id,
        closed_at
    from {{ source('lake_ops', 'session_closes') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='session_id', order_by='closed_at') }}
),

final as (
    select
        session_id,
        closed_at
    from deduplicated
)

select * from final
