{#- Keep the first row per key: rows of `relation` ranked by `order_by` within `partition_by`; returns every
    column plus `_dedup_row_number` (always 1; `rank_column` names it otherwise, for a second deduplication of an
    already deduplicated relation), which the caller leaves out of its final select. Plain window
    SQL, so it runs on DuckDB and on Spark/Trino alike. -#}
{% macro deduplicate(relation, partition_by, order_by, rank_column='_dedup_row_number') %}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by }}
                order by {{ order_by }}
            ) as {{ rank_column }}
        from {{ relation }}
    ) as ranked
    where {{ rank_column }} = 1
{% endmacro %}
