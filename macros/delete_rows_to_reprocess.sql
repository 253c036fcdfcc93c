{#- Generic pre-hook of an incremental model: `delete from this where <column> in (<keys_sql>)`, the rows about to
    be recomputed. delete+insert alone only replaces the keys present in the new rows, so a key whose rows all
    disappeared (erasure, a session merged into another) would otherwise keep stale rows. Renders nothing
    outside is_incremental(). `keys_sql` is a select of one column (e.g. gameplay_dates_to_reprocess()). -#}
{% macro delete_rows_to_reprocess(column, keys_sql) %}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ column }} in (
            select keys_to_reprocess.*
            from (
                {{ keys_sql }}
            ) as keys_to_reprocess
        )
    {%- endif -%}
{% endmacro %}
