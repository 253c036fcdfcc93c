-- Validity (docs/requirements/recsys.md#data-quality ≥ 99%): over all days, landed ÷ (landed + lines quarantined for schema/type reasons) is
-- at least 0.99 for every known event type. A warning: a burst of bad producer lines should be looked at,
-- not block the marts.
{{ config(severity='warn') }}

with

daily as (
    select
        event_type,
        landed,
        quarantined_invalid
    from {{ ref('dq_ingest_daily') }}
    where event_type != '(unknown)'
),

final as (
    select
        event_type,
        sum(landed) as landed,
        sum(quarantined_invalid) as quarantined_invalid,
        {{ safe_divide('sum(landed)', 'sum(landed) + sum(quarantined_invalid)') }} as validity_rate
    from daily
    group by event_type
    having {{ safe_divide('sum(landed)', 'sum(landed) + sum(quarantined_invalid)') }} < 0.99
)

select * from final
