{#- Onboarding funnel per activation cohort (docs/requirements/gameplay.md#goals product goal): first session → first combat → first combat
    win, each within 7 days of activation (the first gameplay session's start). First combat = the first
    engage_enemy, damage_dealt, damage_taken or death event; first combat win = the first engage_enemy with
    outcome win. Step-to-step and overall conversion; null rates when a step has no players. A cohort's
    `is_window_complete` is false while some of its players' 7-day windows run past the last observed day. -#}

with

players as (
    select
        activation_date,
        has_combat_in_window,
        has_combat_win_in_window,
        is_onboarding_window_complete,
        first_combat_at,
        first_combat_win_at,
        activated_at
    from {{ ref('dim_gameplay_players') }}
),

cohorts as (
    select
        activation_date,
        count(*) as activated_players,
        sum(case when has_combat_in_window then 1 else 0 end) as first_combat_players,
        sum(case when has_combat_in_window and has_combat_win_in_window then 1 else 0 end) as first_combat_win_players,
        min(case when is_onboarding_window_complete then 1 else 0 end) = 1 as is_window_complete,
        {{ percentile(
            "case when has_combat_in_window then " ~ dbt.datediff('activated_at', 'first_combat_at', 'second') ~ " end",
            0.5) }} as median_seconds_to_first_combat,
        {{ percentile(
            "case when has_combat_in_window and has_combat_win_in_window then "
            ~ dbt.datediff('activated_at', 'first_combat_win_at', 'second') ~ " end",
            0.5) }} as median_seconds_to_first_combat_win
    from players
    group by activation_date
),

final as (
    select
        cast(activation_date as date) as activation_date,
        cast(activated_players as bigint) as activated_players,
        cast(first_combat_players as bigint) as first_combat_players,
        cast(first_combat_win_players as bigint) as first_combat_win_players,
        {{ safe_divide('first_combat_players', 'activated_players') }} as session_to_combat_rate,
        {{ safe_divide('first_combat_win_players', 'first_combat_players') }} as combat_to_win_rate,
        {{ safe_divide('first_combat_win_players', 'activated_players') }} as overall_conversion_rate,
        cast(median_seconds_to_first_combat as double) as median_seconds_to_first_combat,
        cast(median_seconds_to_first_combat_win as double) as median_seconds_to_first_combat_win,
        cast(is_window_complete as boolean) as is_window_complete
    from cohorts
)

select * from final
