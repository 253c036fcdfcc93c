{#- Designer cohort slices (docs/requirements/gameplay.md#goals: class, region, playstyle): one row per activation week and slice, with the
    onboarding funnel and classic D1/D7/D30 retention of the slice's players. Class and region come from the
    player's first session; playstyle is the one the client reported there, else the dominant activity
    (combat, progression, social: most sample-reweighted events) of the sessions started in the first 7 days. -#}
{%- set days = [1, 7, 30] -%}

with

players as (
    select
        player_key,
        activation_date,
        character_class,
        region,
        playstyle,
        onboarding_sessions,
        onboarding_session_seconds,
        onboarding_combat_events_estimated,
        has_combat_in_window,
        has_combat_win_in_window,
        last_observed_date
    from {{ ref('dim_gameplay_players') }}
),

active_days as (
    select
        player_key,
        activity_date
    from {{ ref('fct_player_daily_activity') }}
    where is_gameplay_active
),

player_retention as (
    select
        players.player_key,
        {%- for n in days %}
        max(
            case
                when active_days.activity_date = {{ dbt.dateadd('day', n, 'players.activation_date') }} then 1 else 0
            end
        )
            as is_retained_d{{ n }}{{ "," if not loop.last }}
        {%- endfor %}
    from players
    left join active_days
        on players.player_key = active_days.player_key
        and players.activation_date < active_days.activity_date
    group by players.player_key
),

slices as (
    select
        {{ period_start('week', 'players.activation_date') }} as cohort_week_start,
        players.character_class,
        players.region,
        players.playstyle,
        count(*) as players,
        sum(players.onboarding_sessions) as onboarding_sessions,
        sum(players.onboarding_session_seconds) as onboarding_session_seconds,
        sum(players.onboarding_combat_events_estimated) as onboarding_combat_events_estimated,
        sum(case when players.has_combat_in_window then 1 else 0 end) as first_combat_players,
        sum(case when players.has_combat_in_window and players.has_combat_win_in_window then 1 else 0 end)
            as first_combat_win_players,
        {%- for n in days %}
        sum(
            case
                when {{ dbt.dateadd('day', n, 'players.activation_date') }} <= players.last_observed_date then 1 else 0
            end
        )
            as observed_d{{ n }}_players,
        sum(case when {{ dbt.dateadd('day', n, 'players.activation_date') }} <= players.last_observed_date
            then player_retention.is_retained_d{{ n }} else 0 end) as retained_d{{ n }}{{ "," if not loop.last }}
        {%- endfor %}
    from players
    inner join player_retention
        on players.player_key = player_retention.player_key
    group by 1, 2, 3, 4
),

final as (
    select
        cast(cohort_week_start as date) as cohort_week_start,
        cast(character_class as string) as character_class,
        cast(region as string) as region,
        cast(playstyle as string) as playstyle,
        cast(players as bigint) as players,
        cast(onboarding_sessions as bigint) as onboarding_sessions,
        {{ safe_divide('onboarding_session_seconds', 'onboarding_sessions') }} as avg_onboarding_session_seconds,
        {{ safe_divide('onboarding_combat_events_estimated', 'players') }} as onboarding_combat_events_per_player,
        cast(first_combat_players as bigint) as first_combat_players,
        cast(first_combat_win_players as bigint) as first_combat_win_players,
        {{ safe_divide('first_combat_players', 'players') }} as session_to_combat_rate,
        {{ safe_divide('first_combat_win_players', 'players') }} as overall_conversion_rate,
        {%- for n in days %}
        cast(observed_d{{ n }}_players as bigint) as observed_d{{ n }}_players,
        cast(retained_d{{ n }} as bigint) as classic_d{{ n }}_retained_players,
        {{ safe_divide('retained_d' ~ n, 'observed_d' ~ n ~ '_players') }}
            as classic_d{{ n }}_retention_rate{{ "," if not loop.last }}
        {%- endfor %}
    from slices
)

select * from final
