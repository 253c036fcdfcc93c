{#- One row per (player, client session id) and UTC day with gameplay events: the index that lets
    fct_gameplay_sessions read only the lake partitions of the sessions a build touches (every day each touched
    pair has events on), and the newest ingest clock of the family without a scan of the history. -#}
{{ config(materialized='incremental', unique_key='event_date', meta={'reprocess': {'families': ['gameplay']}}) }}

with

events as (
    select
        player_key,
        session_id,
        event_date,
        received_at
    from {{ ref('stg_gameplay__events') }}
    where player_key is not null
        and session_id is not null
        and {{ reprocess_filter('event_date') }}
),

final as (
    select
        player_key,
        session_id,
        event_date,
        cast(count(*) as bigint) as events,
        max(received_at) as newest_received_at
    from events
    group by player_key, session_id, event_date
)

select * from final
