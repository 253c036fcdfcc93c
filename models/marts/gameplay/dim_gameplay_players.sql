{#- One row per player: activation (first gameplay session), cohort attributes and onboarding milestones, from
    the persisted facts only (fct_gameplay_sessions, fct_player_daily_activity), so the marts built on it keep
    their history when raw partitions expire (docs/requirements/design.md#retention). -#}
{%- set onboarding_days = 7 -%}

with

sessions as (
    select
        player_key,
        session_key,
        started_at,
        duration_seconds,
        end_reason,
        character_class,
        region,
        playstyle,
        combat_events_estimated,
        progression_events_estimated,
        social_events_estimated,
        first_combat_at,
        first_combat_win_at
    from {{ ref('fct_gameplay_sessions') }}
    where player_key is not null
),

first_sessions as (
    select
        player_key,
        started_at as activated_at,
        character_class,
        region,
        playstyle as reported_playstyle
    from (
        select
            *,
            row_number() over (partition by player_key order by started_at, session_key) as session_order
        from sessions
    ) as ordered
    where session_order = 1
),

-- sessions that started within the onboarding window [activated_at, activated_at + 7 days)
onboarding_sessions as (
    select sessions.*
    from sessions
    inner join first_sessions
        on sessions.player_key = first_sessions.player_key
    where sessions.started_at < {{ dbt.dateadd('day', onboarding_days, 'first_sessions.activated_at') }}
),

onboarding as (
    select
        player_key,
        count(*) as onboarding_sessions,
        sum(duration_seconds) as onboarding_session_seconds,
        sum(combat_events_estimated) as onboarding_combat_events_estimated,
        sum(progression_events_estimated) as onboarding_progression_events_estimated,
        sum(social_events_estimated) as onboarding_social_events_estimated,
        min(first_combat_at) as first_combat_at,
        min(first_combat_win_at) as first_combat_win_at
    from onboarding_sessions
    group by player_key
),

active_days as (
    select
        player_key,
        activity_date
    from {{ ref('fct_player_daily_activity') }}
    where is_gameplay_active
),

horizon as (
    select max(activity_date) as last_observed_date
    from active_days
),

final as (
    select
        first_sessions.player_key,
        first_sessions.activated_at,
        cast(first_sessions.activated_at as date) as activation_date,
        coalesce(first_sessions.character_class, 'unknown') as character_class,
        coalesce(first_sessions.region, 'unknown') as region,
        coalesce(
            first_sessions.reported_playstyle,
            case
                when
                    greatest(
                        onboarding.onboarding_combat_events_estimated,
                        onboarding.onboarding_progression_events_estimated,
                              onboarding.onboarding_social_events_estimated) = 0 then null
                when onboarding.onboarding_combat_events_estimated >= onboarding.onboarding_progression_events_estimated
                    and onboarding.onboarding_combat_events_estimated >= onboarding.onboarding_social_events_estimated
                    then 'combat'
                when onboarding.onboarding_progression_events_estimated >= onboarding.onboarding_social_events_estimated
                    then 'progression'
                else 'social'
            end,
            'unknown'
        ) as playstyle,
        case when first_sessions.reported_playstyle is not null then 'reported' else 'derived' end as playstyle_source,
        cast(onboarding.onboarding_sessions as bigint) as onboarding_sessions,
        cast(onboarding.onboarding_session_seconds as double) as onboarding_session_seconds,
        cast(onboarding.onboarding_combat_events_estimated as double) as onboarding_combat_events_estimated,
        onboarding.first_combat_at,
        onboarding.first_combat_win_at,
        onboarding.first_combat_at is not null
            and onboarding.first_combat_at < {{ dbt.dateadd('day', onboarding_days, 'first_sessions.activated_at') }}
            as has_combat_in_window,
        onboarding.first_combat_win_at is not null
            and onboarding.first_combat_win_at
            < {{ dbt.dateadd('day', onboarding_days, 'first_sessions.activated_at') }}
            as has_combat_win_in_window,
        {{ dbt.dateadd('day', onboarding_days, 'first_sessions.activated_at') }}
            <= {{ dbt.dateadd('day', 1, 'horizon.last_observed_date') }} as is_onboarding_window_complete,
        horizon.last_observed_date
    from first_sessions
    cross join horizon
    left join onboarding
        on first_sessions.player_key = onboarding.player_key
)

select * from final
