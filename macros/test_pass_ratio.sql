{#- Thresholded assertion (docs/requirements/recsys.md#joins: completeness, validity, consistency, join integrity ≥ 99%): the share of
    rows of `model` for which `condition` is true must be ≥ `threshold`. A null condition counts as a failure.
    Without `condition`, the condition is `column_name is not null` (completeness of a column). Restrict the
    rows with the standard `where` config, or with `row_filter`, an argument that (unlike `where`) may call
    project macros and ref() — e.g. recsys_settled_dates(ref('stg_ops__ledger')). Returns one summary row when
    the ratio is below the threshold; an empty model (or filter) passes. -#}
{% test pass_ratio(model, column_name=none, condition=none, threshold=0.99, row_filter=none) %}
    {%- if condition is none and column_name is none -%}
        {{ exceptions.raise_compiler_error("pass_ratio needs a condition or a column") }}
    {%- endif -%}
    {%- set condition = condition if condition is not none else column_name ~ ' is not null' -%}

    with

    scored as (
        select
            case when {{ condition }} then 1 else 0 end as is_passing
        from {{ model }}
        {%- if row_filter is not none %}
        where {{ row_filter }}
        {%- endif %}
    ),

    summary as (
        select
            count(*) as total_rows,
            sum(is_passing) as passing_rows,
            {{ safe_divide('sum(is_passing)', 'count(*)') }} as pass_ratio,
            {{ threshold }} as threshold
        from scored
    )

    select *
    from summary
    where total_rows > 0
        and pass_ratio < {{ threshold }}
{% endtest %}
