{#- Pre-hook of the incremental recsys models: deletes the rows of the dates (period='day', column event_date)
    or periods ('week' → week_start, 'month' → month_start) about to be recomputed. delete+insert alone only
    replaces the keys present in the new rows, so a date whose rows all disappeared (an erasure of its only
    player) would otherwise keep stale rows. Renders nothing outside is_incremental(). -#}
{% macro recsys_delete_dates_to_reprocess(period='day') %}
    {%- if is_incremental() -%}
        {%- set column = 'event_date' if period == 'day' else period ~ '_start' -%}
        delete from {{ this }}
        where {{ recsys_incremental_filter(column, period, quiet=true) }}
    {%- endif -%}
{% endmacro %}
