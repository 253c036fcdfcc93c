{#- A `select event_date` of the dates fct_player_daily_activity recomputes: the dates every family with
    players (`families`, a list of family names) had partitions touched by ledger batches finished after the
    model's watermark, plus the day before (its gameplay session counts are dated by session start).
    Only valid inside is_incremental(). -#}
{% macro player_activity_dates_to_reprocess(families) %}
    {%- set event_types = [] -%}
    {%- for family in families -%}
        {%- if family == 'gameplay' -%}
            {%- do event_types.extend(gameplay_event_types()) -%}
        {%- elif family == 'learning' -%}
            {%- do event_types.extend(learning_event_types()) -%}
        {%- elif family == 'recsys' -%}
            {%- do event_types.extend(recsys_event_types()) -%}
        {%- elif family == 'politics' -%}
            {%- do event_types.extend(politics_event_types()) -%}
        {%- endif -%}
    {%- endfor -%}
    select distinct shifted.event_date
    from (
        select touched.event_date
        from (
            {{ family_dates_to_reprocess(event_types) }}
        ) as touched

        union all

        select cast({{ dbt.dateadd('day', -1, 'touched.event_date') }} as date) as event_date
        from (
            {{ family_dates_to_reprocess(event_types) }}
        ) as touched
    ) as shifted
{% endmacro %}
