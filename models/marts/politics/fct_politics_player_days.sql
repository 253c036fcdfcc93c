{{ config(materialized='incremental', unique_key='event_date') }}

{#- The player-day activity table (docs/requirements/design.md#incremental): distinct users of a week (agg_politics_weekly) or of any period (the
    read API's stats) are counted from it, never summed from daily distinct counts. Persisted (incremental) so it
    outlives the 14-day raw retention, and published for the read API.
    This table was int_politics__player_days before; when that older table is still in the warehouse, the first
    build takes over its rows for the dates the lake no longer holds, so no history is lost by the rename. -#}
{%- set previous = none -%}
{%- if execute and not is_incremental() -%}
    {%- set previous = adapter.get_relation(database=this.database, schema=this.schema,
                                            identifier='int_politics__player_days') -%}
{%- endif %}

with

events as (
    select
        event_date,
        event_type,
        company_id,
        player_key
    from {{ ref('int_politics__events_unioned') }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
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
        cast(event_type as string) as event_type,
        cast(company_id as string) as company_id,
        cast(player_key as string) as player_key,
        cast(events as bigint) as events
    from player_days
    {%- if previous is not none %}

    union all

    select
        cast(event_date as date) as event_date,
        cast(event_type as string) as event_type,
        cast(company_id as string) as company_id,
        cast(player_key as string) as player_key,
        cast(events as bigint) as events
    from {{ previous }}
    where event_date not in (select distinct event_date from events)
    {%- endif %}
)

select * from final
