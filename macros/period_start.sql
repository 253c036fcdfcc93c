{#- First day (a date) of the `period` ('day', 'week' = ISO week starting Monday, 'month') containing the
    date or timestamp `column`. -#}
{% macro period_start(period, column) %}
    {%- if period == 'day' -%}
        cast({{ column }} as date)
    {%- else -%}
        cast({{ dbt.date_trunc(period, column) }} as date)
    {%- endif -%}
{% endmacro %}
