{#- Pre-hook of an incremental model of one family (generic form of recsys_delete_dates_to_reprocess): deletes
    the rows of the dates (period='day', column event_date) or periods ('week' → week_start) about to be
    recomputed, so a date whose rows all disappeared (an erasure of its only player) does not keep stale rows;
    delete+insert then inserts the new rows. Renders nothing outside is_incremental(). -#}
{% macro family_delete_dates_to_reprocess(event_types, period='day', spill_days=0) %}
    {%- if is_incremental() -%}
        {%- set column = 'event_date' if period == 'day' else period ~ '_start' -%}
        delete from {{ this }}
        where {{ column }} in (
            select {{ period_start(period, 'dates_to_reprocess.event_date') }}
            from (
                {{ family_dates_to_reprocess(event_types, spill_days) }}
            ) as dates_to_reprocess
        )
    {%- endif -%}
{% endmacro %}
