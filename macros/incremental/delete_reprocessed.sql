{#- Pre-hook of every incremental model (dbt_project.yml): deletes the rows of the keys this run recomputes
    (reprocess_keys, on the model's unique_key) before the new rows are inserted. delete+insert alone only
    replaces keys present in the new rows, so a key whose rows all disappeared (an erasure of a date's only
    player, a session merged into another) would otherwise keep stale rows. Renders nothing outside an
    incremental run. -#}
{% macro delete_reprocessed() %}
    {{ return(adapter.dispatch('delete_reprocessed', 'telemetry')()) }}
{% endmacro %}

{% macro default__delete_reprocessed() %}
    {%- if follows_engine() and is_incremental() -%}
        delete from {{ this }}
        where {{ reprocess_filter() }}
    {%- endif -%}
{% endmacro %}

{#- Spark: Parquet tables have no DELETE; the table is partitioned by its date key (spark__partition_cols), so
    each key being redone is emptied with a static-partition overwrite by no rows, run here; the hook itself
    renders nothing. insert_overwrite then writes the keys that have rows. -#}
{% macro spark__delete_reprocessed() %}
    {%- if follows_engine() and is_incremental() -%}
        {%- set key_column = config.get('unique_key') -%}
        {%- set nulls = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) if column.name != key_column -%}
            {%- do nulls.append('cast(null as ' ~ column.data_type ~ ') as `' ~ column.name ~ '`') -%}
        {%- endfor -%}
        {%- for key in reprocess_keys() or [] -%}
            {#- no rows, and no read of the table itself (Spark refuses to overwrite a table the query reads) -#}
            {%- do run_query(
                'insert overwrite table ' ~ this ~ ' partition (' ~ key_column ~ " = date'" ~ key ~ "')"
                ~ ' select ' ~ nulls | join(', ') ~ ' where 1 = 0'
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
