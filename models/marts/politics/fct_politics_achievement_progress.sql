{#- Lifetime achievement progress per user (docs/requirements/politics.md#apis), recomputed each run from the persisted per-day
    progress (int_politics__achievement_days) and player-day activity (fct_politics_player_days), which both
    outlive raw retention. Every politics user gets a row for every achievement, 0 progress included. -#}

with

achievements as (
    select
        achievement_id,
        name,
        category,
        event_type,
        target
    from {{ ref('politics_achievements') }}
),

users as (
    select distinct player_key
    from {{ ref('fct_politics_player_days') }}
),

progress_days as (
    select
        event_date,
        player_key,
        achievement_id,
        qualifying_events
    from {{ ref('int_politics__achievement_days') }}
),

running as (
    select
        event_date,
        player_key,
        achievement_id,
        qualifying_events,
        sum(qualifying_events) over (
            partition by player_key, achievement_id
            order by event_date
            rows between unbounded preceding and current row
        ) as progress_to_date
    from progress_days
),

progress as (
    select
        running.player_key,
        running.achievement_id,
        sum(running.qualifying_events) as progress,
        min(running.event_date) as first_progress_date,
        max(running.event_date) as last_progress_date,
        min(case when running.progress_to_date >= achievements.target then running.event_date end) as unlocked_date
    from running
    inner join achievements
        on running.achievement_id = achievements.achievement_id
    group by running.player_key, running.achievement_id
),

final as (
    select
        cast(users.player_key as string) as player_key,
        cast(achievements.achievement_id as string) as achievement_id,
        cast(achievements.name as string) as achievement_name,
        cast(achievements.category as string) as category,
        cast(achievements.event_type as string) as event_type,
        cast(coalesce(progress.progress, 0) as bigint) as progress,
        cast(achievements.target as bigint) as target,
        least({{ safe_divide('coalesce(progress.progress, 0)', 'achievements.target') }}, 1.0) as progress_ratio,
        progress.unlocked_date is not null as is_unlocked,
        cast(progress.unlocked_date as date) as unlocked_date,
        cast(progress.first_progress_date as date) as first_progress_date,
        cast(progress.last_progress_date as date) as last_progress_date
    from users
    cross join achievements
    left join progress
        on users.player_key = progress.player_key
        and achievements.achievement_id = progress.achievement_id
)

select * from final
