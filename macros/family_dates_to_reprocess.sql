{#- A `select event_date` of the dates an incremental model of one family must recompute (DESIGN §7–8), the
    generic form of recsys_dates_to_reprocess for families whose rows depend only on events of their own date
    (or, with `spill_days`, also of the days just before):
    1. the partitions of `event_types` (qualified lake types) touched by ledger batches finished after the
       model's watermark (ledger_watermark);
    2. with `spill_days` = n > 0, also the n days after each of those dates (for rules whose time window
       crosses midnight, e.g. a per-user rate over the last 60 seconds);
    3. when var lookback_days > 0, also the last lookback_days days before the newest such date in the ledger.
    Only valid inside is_incremental(); models calling it declare its refs with family_incremental_depends_on(). -#}
{% macro family_dates_to_reprocess(event_types, spill_days=0) %}
    {%- set types_list = "'" ~ event_types | join("', '") ~ "'" -%}
    {%- set lookback_days = var('lookback_days', 0) | int -%}
    select distinct touched.event_date
    from (
        select partitions.event_date
        from {{ ref('stg_ops__ledger_partitions') }} as partitions
        where partitions.finished_at > {{ ledger_watermark() }}
            and partitions.event_type in ({{ types_list }})
        {%- for day in range(1, spill_days + 1) %}

        union all

        select {{ dbt.dateadd('day', day, 'partitions.event_date') }} as event_date
        from {{ ref('stg_ops__ledger_partitions') }} as partitions
        where partitions.finished_at > {{ ledger_watermark() }}
            and partitions.event_type in ({{ types_list }})
        {%- endfor %}
        {%- if lookback_days > 0 %}

        union all

        select partitions.event_date
        from {{ ref('stg_ops__ledger_partitions') }} as partitions
        where partitions.event_type in ({{ types_list }})
            and partitions.event_date >= (
                select {{ dbt.dateadd('day', -lookback_days, 'max(newest.event_date)') }}
                from {{ ref('stg_ops__ledger_partitions') }} as newest
                where newest.event_type in ({{ types_list }})
            )
        {%- endif %}
    ) as touched
{% endmacro %}
