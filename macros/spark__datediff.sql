{#- Spark only (dbt-spark dispatches `datediff` here before its own): the number of `datepart` boundaries
    between two timestamps, as DuckDB's date_diff counts them (both ends truncated to the unit, then
    subtracted), exact to the microsecond. dbt-spark's own goes through unix seconds for the clock units. Other
    units (week and longer) fall back to dbt-spark's. -#}
{% macro spark__datediff(first_date, second_date, datepart) %}
    {%- set micros = {'microsecond': 1, 'millisecond': 1000, 'second': 1000000, 'minute': 60000000,
                      'hour': 3600000000} -%}
    {%- if datepart in micros -%}
        (unix_micros(cast({{ second_date }} as timestamp_ltz)) div {{ micros[datepart] }}
         - unix_micros(cast({{ first_date }} as timestamp_ltz)) div {{ micros[datepart] }})
    {%- elif datepart == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- else -%}
        {{ dbt_spark.spark__datediff(first_date, second_date, datepart) }}
    {%- endif -%}
{%- endmacro %}
