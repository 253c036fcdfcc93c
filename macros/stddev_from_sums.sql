{#- Sample variance (n − 1 denominator, as var_samp) from additive parts: the count `n`, the sum `total` and the
    sum of squares `total_squares` of the values. Null when n < 2. Lets a weekly rollup get the exact variance
    of the week's raw values from daily rows (docs/requirements/design.md#incremental); a tiny negative variance from floating-point
    cancellation is clamped to 0. -#}
{% macro variance_from_sums(n, total, total_squares) %}
    case
        when {{ n }} > 1 then greatest(
            (cast({{ total_squares }} as double) - cast({{ total }} as double) * {{ total }} / {{ n }}) / ({{ n }} - 1),
            0
        )
    end
{%- endmacro %}

{#- Sample standard deviation (as stddev_samp): the square root of variance_from_sums. Null when n < 2. -#}
{% macro stddev_from_sums(n, total, total_squares) %}
    sqrt({{ variance_from_sums(n, total, total_squares) }})
{%- endmacro %}
