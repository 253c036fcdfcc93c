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
        exploded.batch_id,
        touched.event_type,
        cast(touched.event_date as date) as event_date,
        touched.landed,
        touched.duplicates,
        exploded.finished_at
    from exploded
)

select * from final
