{#- Classic N-day retention (D1, D7, D30) per activation cohort: a player of the cohort activated on day C is
    retained on day N when they have gameplay activity on exactly day C + N (not "on or after": that would be
    rolling / unbounded retention). A rate is null until day C + N has been observed (C + N after the last
    day with gameplay activity). A table over persisted facts (dim_gameplay_players,
    fct_player_daily_activity): rebuilt whole each run, exact under late data, and it keeps the history of
    cohorts whose raw events have expired. -#}
{%- set days = [1, 7, 30] -%}

with

players as (
    select
        player_key,
        activation_date,
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
        players.activation_date,
        players.last_observed_date,
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
    group by players.player_key, players.activation_date, players.last_observed_date
),

cohorts as (
    select
        activation_date as cohort_date,
        max(last_observed_date) as last_observed_date,
        count(*) as cohort_players,
        {%- for n in days %}
        sum(is_retained_d{{ n }}) as retained_d{{ n }}{{ "," if not loop.last }}
        {%- endfor %}
    from player_retention
    group by activation_date
),

final as (
    select
        cast(cohort_date as date) as cohort_date,
        cast(cohort_players as bigint) as cohort_players,
        {%- for n in days %}
        cast({{ dbt.dateadd('day', n, 'cohort_date') }} <= last_observed_date as boolean) as is_d{{ n }}_observed,
        cast(
            case
                when {{ dbt.dateadd('day', n, 'cohort_date') }} <= last_observed_date then retained_d{{ n }}
            end as bigint
        )
            as classic_d{{ n }}_retained_players,
        case
            when {{ dbt.dateadd('day', n, 'cohort_date') }} <= last_observed_date
                then {{ safe_divide('retained_d' ~ n, 'cohort_players') }}
        end as classic_d{{ n }}_retention_rate,
        {%- endfor %}
        cast(last_observed_date as date) as last_observed_date
    from cohorts
)

select * from final
