{#- One row per learning session and UTC day with events of it: the index that lets fct_learning_sessions and
    fct_learning_session_features read only the lake partitions of the sessions they redo, and the family's
    newest ingest clock without a scan of the history. -#}
{{ config(materialized='incremental', unique_key='event_date', meta={'reprocess': {'families': ['learning']}}) }}

with

events as (
    select
        session_id,
        event_date,
        received_at
    from {{ ref('stg_learning__events') }}
    where session_id is not null
        and {{ reprocess_filter('event_date') }}
),

final as (
    select
        session_id,
        event_date,
        cast(count(*) as bigint) as events,
        max(received_at) as newest_received_at
    from events
    group by session_id, event_date
)

select * from final
