{{ config(materialized='incremental', unique_key='event_date') }}

{#- Player-day activity per entry and tier: weekly distinct players are counted from it, never summed from
    daily distinct counts (docs/requirements/design.md#incremental). Persisted (incremental) so it outlives the raw retention. -#}

with

summaries as (
    select
        event_date,
        entry,
        tier,
        player_key
    from {{ ref('stg_ability__metric_summary') }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(entry as string) as entry,
        cast(tier as bigint) as tier,
        cast(player_key as string) as player_key,
        cast(count(*) as bigint) as summaries
    from summaries
    group by event_date, entry, tier, player_key
)

select * from final
