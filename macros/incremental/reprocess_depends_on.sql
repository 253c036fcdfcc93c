{#- Declares the refs reprocess_keys() and ledger_stamp() query at run time — the ledger, and the models the
    model's meta.reprocess names (chain, keys_from, changed_in) — so dbt orders the model after them and a
    `--select +model` builds them too, even though those queries only run inside is_incremental(). One line at
    the top of every incremental model. -#}
{% macro reprocess_depends_on() %}
-- depends_on: {{ ref('stg_ops__ledger') }}
-- depends_on: {{ ref('stg_ops__ledger_partitions') }}
{%- set spec = ((model.config or {}).get('meta') or config.get('meta') or {}).get('reprocess') or {} -%}
{%- for name in [(spec.get('chain') or {}).get('model'), (spec.get('keys_from') or {}).get('model'), spec.get('changed_in')] -%}
{%- if name %}
-- depends_on: {{ ref(name) }}
{%- endif -%}
{%- endfor %}
{% endmacro %}
