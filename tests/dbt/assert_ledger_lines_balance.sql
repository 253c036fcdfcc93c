-- Nothing lost (docs/requirements/design.md#nothing-lost): for every batch, records read = landed + quarantined + duplicates + dropped, and
-- the partitions it lists account for every landed event.
with

ledger as (
    select
        batch_id,
        records_read,
        landed,
        quarantined,
        duplicates,
        dropped
    from {{ ref('stg_ops__ledger') }}
),

partitions as (
    select
        batch_id,
        sum(landed) as landed_in_partitions
    from {{ ref('stg_ops__ledger_partitions') }}
    group by batch_id
),

final as (
    select
        ledger.*,
        coalesce(partitions.landed_in_partitions, 0) as landed_in_partitions
    from ledger
    left join partitions
        on ledger.batch_id = partitions.batch_id
    where ledger.records_read != ledger.landed + ledger.quarantined + ledger.duplicates + ledger.dropped
        or ledger.landed != coalesce(partitions.landed_in_partitions, 0)
)

select * from final
