-- The reason codes dq_ingest_daily pivots into columns (macro quarantine_reason_codes) are exactly the seed
-- quarantine_reasons: a code in one list but not the other is returned.
with

macro_reasons as (
    {%- for reason in quarantine_reason_codes() %}
    select '{{ reason }}' as reason{{ " union all" if not loop.last }}
    {%- endfor %}
),

seed_reasons as (
    select reason
    from {{ ref('quarantine_reasons') }}
),

final as (
    select macro_reasons.reason, 'missing from the seed' as problem
    from macro_reasons
    left join seed_reasons
        on macro_reasons.reason = seed_reasons.reason
    where seed_reasons.reason is null
    union all
    select seed_reasons.reason, 'missing from quarantine_reason_codes()' as problem
    from seed_reasons
    left join macro_reasons
        on seed_reasons.reason = macro_reasons.reason
    where macro_reasons.reason is null
)

select * from final
