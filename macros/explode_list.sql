{#- One output row per element of a list column, as a select expression: `{{ explode_list('items') }} as item`. -#}
{% macro explode_list(column) %}
    {{ return(adapter.dispatch('explode_list', 'telemetry')(column)) }}
{% endmacro %}

{% macro default__explode_list(column) %}
    explode({{ column }})
{%- endmacro %}

{% macro duckdb__explode_list(column) %}
    unnest({{ column }})
{%- endmacro %}
