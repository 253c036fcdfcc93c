{#- Number of elements of a list column. -#}
{% macro list_length(column) %}
    {{ return(adapter.dispatch('list_length', 'telemetry')(column)) }}
{% endmacro %}

{% macro default__list_length(column) %}
    size({{ column }})
{%- endmacro %}

{% macro duckdb__list_length(column) %}
    len({{ column }})
{%- endmacro %}
