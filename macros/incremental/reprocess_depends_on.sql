{#- Declares the refs the engine queries at run time — the ledger, and the models the model's meta.reprocess
    names (chain, keys_from, changed_in) — so dbt orders the model after them and a `--select +model` builds them
    too, even though those queries only run inside is_incremental(). reprocess_filter() calls it: a ref() made
    while dbt parses the body records the dependency; it renders nothing. -#}
{% macro reprocess_depends_on() %}
    {%- do ref('stg_ops__ledger') -%}
    {%- do ref('stg_ops__ledger_partitions') -%}
    {%- set spec = ((model.config or {}).get('meta') or config.get('meta') or {}).get('reprocess') or {} -%}
    {%- for name in [(spec.get('chain') or {}).get('model'), (spec.get('keys_from') or {}).get('model'), spec.get('changed_in')] if name -%}
        {%- do ref(name) -%}
    {%- endfor -%}
{% endmacro %}
