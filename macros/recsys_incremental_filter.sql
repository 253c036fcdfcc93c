{#- The row filter of an incremental recsys model, a SQL boolean on `column`:
    - full build: `1 = 1`;
    - incremental run: `column in (<dates>)` with the dates (period='day') or period starts ('week', 'month')
      of recsys_dates_to_reprocess(), run once when the model is compiled and inlined as literals, so the
      filter reaches the lake partitions and an empty set (`1 = 0`) costs nothing. Logs what it recomputes
      unless `quiet`. The pre-hook (recsys_delete_dates_to_reprocess) evaluates the same set before the
      model's rows are written: nothing changes in between. -#}
{% macro recsys_incremental_filter(column='event_date', period='day', quiet=false) %}
    {%- if not is_incremental() -%}
        1 = 1
    {%- elif not execute -%}
        1 = 0
    {%- else -%}
        {#- step 1 is cheap (the ledger); when it finds nothing and there is no lookback, stop there -#}
        {%- set new_partitions = run_query(recsys_new_partitions_query()).rows | map('list') | list -%}
        {%- set starts = [] -%}
        {%- if new_partitions | length > 0 or var('lookback_days', 0) | int > 0 -%}
            {%- set query -%}
                select distinct {{ period_start(period, 'dates_to_reprocess.event_date') }} as period_start
                from (
                    {{ recsys_dates_to_reprocess(new_partitions) }}
                ) as dates_to_reprocess
                order by 1
            {%- endset -%}
            {%- set starts = run_query(query).columns[0].values() | map('string') | list -%}
        {%- endif -%}
        {%- if not quiet -%}
            {%- set shown = starts | join(", ") if starts | length <= 8 else starts[0] ~ " … " ~ starts[-1] -%}
            {{ log(this.identifier ~ ": recomputing " ~ starts | length ~ " " ~ period ~ "(s)"
                   ~ (": " ~ shown if starts else ""), info=true) }}
        {%- endif -%}
        {%- if starts | length == 0 -%}
            1 = 0
        {%- else -%}
            {{ column }} in ({% for start in starts %}cast('{{ start }}' as date){{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
