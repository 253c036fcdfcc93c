{#- Declares the refs recsys_dates_to_reprocess() and ledger_stamp() use, so dbt orders the model after them
    even though those macros only run inside is_incremental() (a parse-time render never reaches them). -#}
{% macro recsys_incremental_depends_on() %}
-- depends_on: {{ ref('stg_ops__ledger') }}
-- depends_on: {{ ref('stg_ops__ledger_partitions') }}
-- depends_on: {{ ref('int_recsys__events_unioned') }}
{% endmacro %}
