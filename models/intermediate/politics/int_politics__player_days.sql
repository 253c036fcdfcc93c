{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
        pre_hook="{{ family_delete_dates_to_reprocess(politics_event_types()) }}",
    )
}}
{{ family_incremental_depends_on() }}
{{ guard_incremental_full_refresh(politics_event_types(), ref('int_politics__events_unioned'), "'politics_' || event_type") }}

{#- The player-day activity table (DESIGN §8): weekly distinct users are counted from it, never summed from
    daily distinct counts. Persisted (incremental) so it outlives the 14-day raw retention. -#}

with

{% if is_incremental() -%}
dates_to_reprocess as (
    {{ family_dates_to_reprocess(politics_event_types()) }}
),
{%- endif %}

events as (
    select
        event_date,
        event_type,
        company_id,
        player_key
    from {{ ref('int_politics__events_unioned') }}
    where player_key is not null
    {%- if is_incremental() %}
        and event_date in (select event_date from dates_to_reprocess)
    {%- endif %}
),

player_days as (
    select
        event_date,
        event_type,
        company_id,
        player_key,
        count(*) as events
    from events
    group by event_date, event_type, company_id, player_key
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(event_type as varchar) as event_type,
        cast(company_id as varchar) as company_id,
        cast(player_key as varchar) as player_key,
        cast(events as bigint) as events,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from player_days
)

select * from final
