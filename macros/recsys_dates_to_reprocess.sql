{#- A `select event_date` of the dates an incremental recsys mart must recompute (DESIGN §7–8):
    1. the recsys partitions touched by ledger batches (ingest, replay, erasure) finished after the model's
       watermark (ledger_watermark);
    2. every date holding an event of a request those batches touched: a click landing in 01-02 for a request
       of 01-01 changes 01-01's rows, and a request landing after its children moves them from their own
       (unattributed) date to the request's date, so both dates are redone;
    3. when var lookback_days > 0, also the last lookback_days days before the newest recsys date in the ledger
       that the lake still holds (keep it below the shortest raw retention: recsys errors, 30 days).
    Dates are the marts' event_date: the request's date, or the event's own date when it has no request.
    `new_partitions`, when given, is the already-queried list of (batch_id, event_type, event_date) of step 1
    (see recsys_new_partitions): it is inlined as literals so the lake scan of step 2 is pruned to those
    partitions. Only valid inside is_incremental(); models calling it declare its refs with
    recsys_incremental_depends_on(), and use it through recsys_incremental_filter(). -#}
{% macro recsys_dates_to_reprocess(new_partitions=none) %}
    {%- set event_types = "'" ~ recsys_event_types() | join("', '") ~ "'" -%}
    {%- set lookback_days = var('lookback_days', 0) | int -%}
    with

    new_partitions as (
        {%- if new_partitions is none %}
        {{ recsys_new_partitions_query() }}
        {%- elif new_partitions | length == 0 %}
        select
            cast(null as varchar) as batch_id,
            cast(null as varchar) as event_type,
            cast(null as date) as event_date
        where 1 = 0
        {%- else %}
        select
            batch_id,
            event_type,
            cast(event_date as date) as event_date
        from (
            values
            {%- for row in new_partitions %}
                ('{{ row[0] | replace("'", "''") }}', '{{ row[1] | replace("'", "''") }}', '{{ row[2] }}'){{ "," if not loop.last }}
            {%- endfor %}
        ) as touched (batch_id, event_type, event_date)
        {%- endif %}
    ),

    new_requests as (
        -- request ids of the events the new batches landed
        select distinct events.request_id
        from {{ ref('int_recsys__events_unioned') }} as events
        inner join new_partitions
            on events.event_type = new_partitions.event_type
            and events.event_date = new_partitions.event_date
            and events.batch_id = new_partitions.batch_id
        where events.request_id is not null
        {%- if new_partitions is not none and new_partitions | length > 0 %}
            -- literal dates reach the lake: only the touched partitions are read
            and events.event_date in (
                {%- for event_date in new_partitions | map(attribute=2) | unique | list -%}
                cast('{{ event_date }}' as date){{ ", " if not loop.last }}
                {%- endfor -%}
            )
        {%- endif %}
    ),

    dates as (
        select event_date
        from new_partitions

        union all

        select events.event_date
        from {{ ref('int_recsys__events_unioned') }} as events
        inner join new_requests
            on events.request_id = new_requests.request_id
        {%- if lookback_days > 0 %}

        union all

        -- only dates the lake still holds: a lookback longer than retention must not wipe expired history
        select events.event_date
        from {{ ref('int_recsys__events_unioned') }} as events
        where events.event_date >= (
            select {{ dbt.dateadd('day', -lookback_days, 'max(newest.event_date)') }}
            from {{ ref('stg_ops__ledger_partitions') }} as newest
            where newest.event_type in ({{ event_types }})
        )
        {%- endif %}
    )

    select distinct event_date
    from dates
{% endmacro %}


{#- `select batch_id, event_type, event_date` of the recsys partitions touched by ledger batches finished
    after the model's watermark (step 1 of recsys_dates_to_reprocess). -#}
{% macro recsys_new_partitions_query() %}
    {%- set event_types = "'" ~ recsys_event_types() | join("', '") ~ "'" -%}
        select
            batch_id,
            event_type,
            event_date
        from {{ ref('stg_ops__ledger_partitions') }}
        where finished_at > {{ ledger_watermark() }}
            and event_type in ({{ event_types }})
{%- endmacro %}
