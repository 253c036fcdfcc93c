{#- Declares the ledger refs reprocess_keys() and ledger_stamp() query at run time, so dbt orders the model
    after them even though those queries only run inside is_incremental(). One line at the top of every
    incremental model. -#}
{% macro reprocess_depends_on() %}
-- depends_on: {{ ref('stg_ops__ledger') }}
-- depends_on: {{ ref('stg_ops__ledger_partitions') }}
{% endmacro %}
