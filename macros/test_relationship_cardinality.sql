{#- Join contract between a parent (`model`.`column_name`) and a child (`to`.`field`), docs/requirements/recsys.md#joins.
    `cardinality` is '<min>:<max>' children per parent ('N' = no maximum):
      '1:1' exactly one (request→ranking), '1:N' at least one (ranking→impression),
      '0:1' at most one (impression→click), '0:N' any number.
    Always: every non-null child key has exactly one parent row. Returns one row per violating key with the
    violation kind; null keys are ignored. -#}
{% test relationship_cardinality(model, column_name, to, field, cardinality='1:N') %}
    {%- set bounds = (cardinality | string).split(':') -%}
    {%- if bounds | length != 2 -%}
        {{ exceptions.raise_compiler_error("relationship_cardinality: cardinality must look like '1:N', got " ~ cardinality) }}
    {%- endif -%}
    {%- set min_children = bounds[0] | int -%}
    {%- set max_children = none if bounds[1] | upper == 'N' else bounds[1] | int -%}

    with

    parents as (
        select
            {{ column_name }} as join_key,
            count(*) as parent_rows
        from {{ model }}
        where {{ column_name }} is not null
        group by {{ column_name }}
    ),

    children as (
        select
            {{ field }} as join_key,
            count(*) as child_rows
        from {{ to }}
        where {{ field }} is not null
        group by {{ field }}
    ),

    joined as (
        select
            coalesce(parents.join_key, children.join_key) as join_key,
            coalesce(parents.parent_rows, 0) as parent_rows,
            coalesce(children.child_rows, 0) as child_rows
        from parents
        full outer join children
            on parents.join_key = children.join_key
    ),

    violations as (
        select
            join_key,
            parent_rows,
            child_rows,
            case
                when parent_rows = 0 then 'child without parent'
                when parent_rows > 1 then 'duplicate parent key'
                when child_rows < {{ min_children }} then 'fewer than {{ min_children }} children'
                {%- if max_children is not none %}
                when child_rows > {{ max_children }} then 'more than {{ max_children }} children'
                {%- endif %}
            end as violation
        from joined
    )

    select *
    from violations
    where violation is not null
{% endtest %}
