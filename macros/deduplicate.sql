{#- Keep the first row per key: rows of `relation` ranked by `order_by` within `partition_by`; returns every
    column plus `_dedup_row_number` (always 1), which the caller leaves out of its final select. Plain window
    SQL, so it runs on DuckDB and on Spark/Trino alike. -#}
{% macro deduplicate(relation, partition_by, order_by) %}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as _dedup_row_number
        from {{ relation }}
    ) as ranked
    where _dedup_row_number = 1
{% endmacro %}
