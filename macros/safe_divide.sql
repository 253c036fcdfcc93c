{#- numerator ÷ denominator as a double; null when the denominator is 0 or null (a ratio with no base). -#}
{% macro safe_divide(numerator, denominator) %}
    (cast({{ numerator }} as double) / nullif({{ denominator }}, 0))
{%- endmacro %}
