{#- Spark only (dbt-spark dispatches `partition_cols` here before its own): a table is partitioned by its
    `partition_by` config when it has one, else an incremental model by its date `unique_key` (`event_date`,
    `week_start`, `month_start`, `session_date`, `activity_date`). The marts Spark writes are then Parquet
    folders `<table>/<key>=YYYY-MM-DD/`, readable by DuckDB, polars and Spark alike, and the incremental engine
    overwrites exactly the partitions of the keys it redoes (insert_overwrite, dynamic partition overwrite). -#}
{% macro spark__partition_cols(label, required=false) %}
    {%- set cols = config.get('partition_by', validator=validation.any[list, basestring]) -%}
    {%- if cols is none and config.get('materialized') == 'incremental' -%}
        {%- set key = config.get('unique_key') -%}
        {%- if key is string and (key.endswith('_date') or key.endswith('_start')) -%}
            {%- set cols = [key] -%}
        {%- endif -%}
    {%- endif -%}
    {%- if cols is not none -%}
        {%- if cols is string -%}
            {%- set cols = [cols] -%}
        {%- endif %}
    {{ label }} ({{ cols | join(', ') }})
    {%- endif %}
{%- endmacro %}
