{#- Continuous (linearly interpolated) percentile of `column` as an aggregate; `fraction` in 0..1. -#}
{% macro percentile(column, fraction) %}
    {{ return(adapter.dispatch('percentile', 'telemetry')(column, fraction)) }}
{% endmacro %}

{% macro default__percentile(column, fraction) %}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro duckdb__percentile(column, fraction) %}
    quantile_cont({{ column }}, {{ fraction }})
{%- endmacro %}
