{{ config(materialized='incremental', unique_key='event_date') }}
{{ reprocess_depends_on() }}

{#- The player-day activity table (DESIGN §8): weekly distinct users are counted from it, never summed from
    daily distinct counts. Persisted (incremental) so it outlives the 14-day raw retention. -#}

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
        cast(events as bigint) as events,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from player_days
)

select * from final
