-- The gameplay event types the models iterate (macro gameplay_event_categories) must be exactly the tables of the
-- generated source lake_gameplay (the registry, schemas/gameplay/): a type added to the registry but not to the macro
-- would never reach stg_gameplay__events. Returns each type missing on one side.
{%- set declared = [] %}
{%- if execute %}
    {%- for node in graph.sources.values() %}
        {%- if node.source_name == 'lake_gameplay' %}
            {%- do declared.append(node.name) %}
        {%- endif %}
    {%- endfor %}
{%- endif %}
{%- set listed = gameplay_event_categories().keys() | list %}

with

declared as (
    {%- for name in declared | sort %}
    select '{{ name }}' as event_type{{ " union all" if not loop.last }}
    {%- else %}
    select cast(null as varchar) as event_type where false
    {%- endfor %}
),

listed as (
    {%- for name in listed | sort %}
    select '{{ name }}' as event_type{{ " union all" if not loop.last }}
    {%- endfor %}
)

select
    coalesce(declared.event_type, listed.event_type) as event_type,
    case when declared.event_type is null then 'in macro, not in registry' else 'in registry, not in macro' end as problem
from declared
full outer join listed
    on declared.event_type = listed.event_type
where declared.event_type is null
    or listed.event_type is null
