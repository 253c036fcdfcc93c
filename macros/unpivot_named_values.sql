{#- One output row per (name, expression…) tuple of `rows`, as a select expression returning a struct:
    `{{ unpivot_named_values(fields, rows) }} as item`, then `item.<field>`. `fields` names the struct's fields,
    `rows` is a list of lists of SQL expressions, one per field (the first is usually a quoted name). Rows whose
    expressions are null still come out; filter them in the caller. -#}
{% macro unpivot_named_values(fields, rows) %}
    {{ return(adapter.dispatch('unpivot_named_values', 'telemetry')(fields, rows)) }}
{% endmacro %}

{% macro default__unpivot_named_values(fields, rows) %}
    explode(array(
        {%- for row in rows %}
        named_struct({% for field in fields %}'{{ field }}', {{ row[loop.index0] }}{{ ", " if not loop.last }}{% endfor %}){{ "," if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{% macro duckdb__unpivot_named_values(fields, rows) %}
    unnest([
        {%- for row in rows %}
        { {%- for field in fields %}'{{ field }}': {{ row[loop.index0] }}{{ ", " if not loop.last }}{% endfor -%} }{{ "," if not loop.last }}
        {%- endfor %}
    ])
{%- endmacro %}
