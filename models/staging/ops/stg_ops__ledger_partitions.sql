{#- A table, not a view: the engine of every incremental model queries it several times per build. -#}
{{ config(materialized='table') }}

with

ledger as (
    select
        batch_id,
        finished_at,
        partitions
    from {{ ref('stg_ops__ledger') }}
),

exploded as (
    select
        batch_id,
        finished_at,
        {{ explode_list('partitions') }} as touched
    from ledger
),

final as (
    select
        batch_id,
        touched.event_type as event_type,
        cast(touched.event_date as date) as event_date,
        touched.landed as landed,
        touched.duplicates as duplicates,
        finished_at
    from exploded
)

select * from final
