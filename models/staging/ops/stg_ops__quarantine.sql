with

source as (
    select
        batch_id,
        source_file,
        line_number,
        record_index,
        received_at,
        received_date,
        reason,
        event_type,
        schema_id,
        event_date,
        errors
    from {{ source('lake_ops', 'quarantine') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='batch_id, line_number, record_index', order_by='received_at') }}
),

final as (
    select
        batch_id,
        line_number,
        record_index,
        source_file,
        reason,
        event_type,
        schema_id,
        cast(event_date as date) as event_date,
        cast({{ list_length('errors') }} as bigint) as error_count,
        errors,
        received_at,
        cast(received_date as date) as received_date
    from deduplicated
)

select * from final
