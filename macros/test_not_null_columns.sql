{#- No nulls in any of `columns`: the not_null checks of one model in one query and one dbt node (a build's cost
    is mostly dbt's work per node: docs/warehouse.md, "Data quality in dbt"). Returns one row per column that holds nulls:
    column_name and null_rows. -#}
{% test not_null_columns(model, columns) %}
    with null_counts as (
        select
            {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ model }}
    )
    {%- for column in columns %}
    select
        '{{ column }}' as column_name,
        null_rows_{{ loop.index }} as null_rows
    from null_counts
    where null_rows_{{ loop.index }} > 0
    {{ "union all" if not loop.last }}
    {%- endfor %}
{% endtest %}
