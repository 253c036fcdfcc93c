{#- True when the whole of `column` matches the regular expression `pattern` (a SQL boolean). -#}
{% macro regexp_full_match(column, pattern) %}
    {{ return(adapter.dispatch('regexp_full_match', 'telemetry')(column, pattern)) }}
{% endmacro %}

{% macro default__regexp_full_match(column, pattern) %}
    ({{ column }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regexp_full_match(column, pattern) %}
    regexp_full_match({{ column }}, '{{ pattern }}')
{%- endmacro %}
