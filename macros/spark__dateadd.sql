{#- Spark only (dbt-spark dispatches `dateadd` here before its own): `timestampadd`, exact to the microsecond.
    dbt-spark's own goes through unix seconds, which drops the fraction of a second (a rate window of 60 s would
    then admit or lose events at its edge that DuckDB does not). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) %}
    timestampadd({{ datepart | upper }}, cast({{ interval }} as bigint), {{ from_date_or_timestamp }})
{%- endmacro %}
