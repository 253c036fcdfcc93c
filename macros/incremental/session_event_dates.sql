{#- A condition on `event_date` naming every day the sessions of `keys_sql` (a query of one column,
    `session_key`, the session ids) have events on, read from `index` (a relation with session_id and
    event_date: int_learning__session_days), as date literals so the lake partitions prune: `event_date in (…)`,
    or `1 = 0` when those sessions have none. Renders `1 = 1` outside an incremental run (every day). -#}
{% macro session_event_dates(index, keys_sql) %}
    {%- if not execute or not is_incremental() -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set query -%}
        select distinct cast(event_date as string)
        from {{ index }}
        where session_id in ({{ keys_sql }})
        order by 1
    {%- endset -%}
    {%- set days = run_query(query).columns[0].values() | list -%}
    {%- if days | length == 0 -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for day in days -%}
        {%- do literals.append("cast('" ~ day ~ "' as date)") -%}
    {%- endfor -%}
    {{ return('event_date in (' ~ literals | join(', ') ~ ')') }}
{% endmacro %}
