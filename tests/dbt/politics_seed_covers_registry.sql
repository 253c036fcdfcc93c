-- Seed politics_event_types (value field, outcome per type) describes exactly the registry's politics types
-- (registry_event_types, generated from schemas/politics/): a type in one list but
-- not the other is returned.
with

registry_types as (
    {%- for event_type in registry_event_types('politics') %}
    select '{{ event_type }}' as event_type{{ " union all" if not loop.last }}
    {%- endfor %}
),

seed_types as (
    select 'politics_' || event_type as event_type
    from {{ ref('politics_event_types') }}
),

final as (
    select registry_types.event_type, 'missing from seed politics_event_types' as problem
    from registry_types
    left join seed_types
        on registry_types.event_type = seed_types.event_type
    where seed_types.event_type is null
    union all
    select seed_types.event_type, 'not in the registry' as problem
    from seed_types
    left join registry_types
        on seed_types.event_type = registry_types.event_type
    where registry_types.event_type is null
)

select * from final
