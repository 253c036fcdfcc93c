-- The metric keys the staging model flattens (macro ability_metric_keys) are exactly the central metric
-- registry (seed ability_metric_registry, seed 001 §11): a key in one list but not the other is returned.
-- (tests/generate/test_registry_agreement.py checks the registry against the JSON Schema's `metrics` keys.)
with

macro_keys as (
    {%- for key in ability_metric_keys() %}
    select '{{ key }}' as metric_key{{ " union all" if not loop.last }}
    {%- endfor %}
),

registry_keys as (
    select metric_key
    from {{ ref('ability_metric_registry') }}
),

final as (
    select macro_keys.metric_key, 'missing from the registry seed' as problem
    from macro_keys
    left join registry_keys
        on macro_keys.metric_key = registry_keys.metric_key
    where registry_keys.metric_key is null
    union all
    select registry_keys.metric_key, 'missing from ability_metric_keys()' as problem
    from registry_keys
    left join macro_keys
        on registry_keys.metric_key = macro_keys.metric_key
    where macro_keys.metric_key is null
)

select * from final
