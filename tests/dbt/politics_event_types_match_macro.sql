-- The politics event types of seed politics_event_types (value field, outcome) are exactly the lake types the
-- incremental models watch (macro politics_event_types, qualified `politics_<type>`): a type in one list but
-- not the other is returned.
with

macro_types as (
    {%- for event_type in politics_event_types() %}
    select '{{ event_type }}' as event_type{{ " union all" if not loop.last }}
    {%- endfor %}
),

seed_types as (
    select 'politics_' || event_type as event_type
    from {{ ref('politics_event_types') }}
),

final as (
    select macro_types.event_type, 'missing from seed politics_event_types' as problem
    from macro_types
    left join seed_types
        on macro_types.event_type = seed_types.event_type
    where seed_types.event_type is null
    union all
    select seed_types.event_type, 'missing from politics_event_types()' as problem
    from seed_types
    left join macro_types
        on seed_types.event_type = macro_types.event_type
    where macro_types.event_type is null
)

select * from final
