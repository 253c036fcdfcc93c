{#- Primary key over several columns: no two rows share the same values of `columns` (nulls compare equal).
    Returns the duplicated key values with their row count. -#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as key_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
