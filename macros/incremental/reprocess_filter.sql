{#- The row filter of an incremental model, a SQL boolean on `column` (default: the model's unique_key):
    `1 = 1` on a full build; on an incremental run `column in (<literals>)` with reprocess_keys() inlined, so the
    filter reaches the lake partitions (hive pruning needs literals, not a subquery), or `1 = 0` when there is
    nothing to redo. `period` maps the keys (dates) onto `column` when it is a period start of a coarser model
    than the keys' own (e.g. a weekly model reading daily rows: `reprocess_filter('event_date')` on a weekly
    model filters the days of the weeks it redoes). `days_before` widens day keys to the n days before each, for
    rows read as context but not written (a rule that looks back across midnight). `period` ('week', 'month')
    names the key's period where the caller knows it (the weekly/monthly bodies; default reprocess_grain()).
    Calling it is what makes a model follow the engine: it also declares the refs the engine queries
    (reprocess_depends_on). -#}
{% macro reprocess_filter(column=none, days_before=0, period=none) %}
    {%- do reprocess_depends_on() -%}
    {%- set keys = reprocess_keys() -%}
    {%- if keys and days_before > 0 -%}
        {%- set widened = [] -%}
        {%- for key in keys -%}
            {%- for offset in range(0, days_before + 1) -%}
                {%- do widened.append((modules.datetime.date.fromisoformat(key) - modules.datetime.timedelta(days=offset)).isoformat()) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- set keys = widened | unique | sort | list -%}
    {%- endif -%}
    {%- set key_column = config.get('unique_key') -%}
    {%- set column = column or key_column -%}
    {%- if keys is none -%}
        {%- if is_incremental() -%}
            1 = 0
        {%- else -%}
            1 = 1
        {%- endif -%}
    {%- elif keys | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set grain = reprocess_grain() -%}
        {%- set period = period or grain -%}
        {%- if grain == 'key' -%}
            {{ column }} in ({{ sql_literals(keys) }})
        {%- elif period == 'day' or column == key_column -%}
            {{ column }} in ({% for key in keys %}cast('{{ key }}' as date){{ ", " if not loop.last }}{% endfor %})
        {%- else -%}
            {{ period_start(period, column) }} in ({% for key in keys %}cast('{{ key }}' as date){{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
