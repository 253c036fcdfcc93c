{{ config(materialized='incremental', unique_key='event_date') }}

{#- Achievement progress made per user and day (docs/requirements/politics.md#apis): the events that count toward each achievement
    of seed politics_achievements (its type; successful only when requires_success; value ≥ min_value when
    set). Persisted so lifetime progress outlives the 14-day raw retention. -#}

with

events as (
    select
        event_date,
        event_type,
        player_key,
        value,
        is_success
    from {{ ref('int_politics__events_unioned') }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
),

achievements as (
    select
        achievement_id,
        event_type,
        requires_success,
        min_value
    from {{ ref('politics_achievements') }}
),

qualifying as (
    select
        events.event_date,
        events.player_key,
        achievements.achievement_id
    from events
    inner join achievements
        on events.event_type = achievements.event_type
    where (not achievements.requires_success or events.is_success)
        and (achievements.min_value is null or events.value >= achievements.min_value)
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(player_key as string) as player_key,
        cast(achievement_id as string) as achievement_id,
        cast(count(*) as bigint) as qualifying_events
    from qualifying
    group by event_date, player_key, achievement_id
)

select * from final
