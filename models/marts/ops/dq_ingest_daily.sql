with

partitions as (
    select
        event_type,
        event_date,
        landed,
        duplicates
    from {{ ref('stg_ops__ledger_partitions') }}
),

quarantine as (
    select
        -- lines whose type could not be read are grouped under '(unknown)'; lines without a readable
        -- event time are dated by the day ingest received them
        coalesce(event_type, '(unknown)') as event_type,
        coalesce(event_date, received_date) as event_date,
        reason
    from {{ ref('stg_ops__quarantine') }}
),

reasons as (
    select
        reason,
        is_validity_failure
    from {{ ref('quarantine_reasons') }}
),

landed as (
    select
        event_type,
        event_date,
        sum(landed) as landed,
        sum(duplicates) as duplicates
    from partitions
    group by event_type, event_date
),

quarantined as (
    select
        quarantine.event_type,
        quarantine.event_date,
        count(*) as quarantined,
        sum(case when reasons.is_validity_failure then 1 else 0 end) as quarantined_invalid,
        {%- for reason in quarantine_reason_codes() %}
        sum(case when quarantine.reason = '{{ reason }}' then 1 else 0 end)
            as quarantined_{{ reason }}{{ "," if not loop.last }}
        {%- endfor %}
    from quarantine
    left join reasons
        on quarantine.reason = reasons.reason
    group by quarantine.event_type, quarantine.event_date
),

days as (
    select
event_type,
event_date
from landed
    union
    select
event_type,
event_date
from quarantined
),

final as (
    select
        days.event_type,
        days.event_date,
        cast(coalesce(landed.landed, 0) as bigint) as landed,
        cast(coalesce(landed.duplicates, 0) as bigint) as duplicates,
        cast(coalesce(quarantined.quarantined, 0) as bigint) as quarantined,
        {%- for reason in quarantine_reason_codes() %}
        cast(coalesce(quarantined.quarantined_{{ reason }}, 0) as bigint) as quarantined_{{ reason }},
        {%- endfor %}
        cast(coalesce(quarantined.quarantined_invalid, 0) as bigint) as quarantined_invalid,
        {{ safe_divide(
            'coalesce(landed.landed, 0)',
            'coalesce(landed.landed, 0) + coalesce(quarantined.quarantined_invalid, 0)'
        ) }} as validity_rate
    from days
    left join landed
        on days.event_type = landed.event_type
        and days.event_date = landed.event_date
    left join quarantined
        on days.event_type = quarantined.event_type
        and days.event_date = quarantined.event_date
)

select * from final
