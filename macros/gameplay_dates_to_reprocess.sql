{#- A `select event_date` of the dates an incremental gameplay mart recomputes (DESIGN §7–8): the dates of the
    gameplay partitions touched by ledger batches finished after the model's watermark
    (family_dates_to_reprocess, which adds var lookback_days), plus the day before each of them: sessions are
    dated by their start, so an event landing on D can change a session that started on D − 1 and ran past
    midnight. Only valid inside is_incremental(); declare the refs with family_incremental_depends_on(). -#}
{% macro gameplay_dates_to_reprocess() %}
    select distinct shifted.event_date
    from (
        select touched.event_date
        from (
            {{ family_dates_to_reprocess(gameplay_event_types()) }}
        ) as touched

        union all

        select cast({{ dbt.dateadd('day', -1, 'touched.event_date') }} as date) as event_date
        from (
            {{ family_dates_to_reprocess(gameplay_event_types()) }}
        ) as touched
    ) as shifted
{% endmacro %}
