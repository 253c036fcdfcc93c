{#- A player's slices (dim_gameplay_players) can change while data of their first 7 days lands (a
    late session_start, the derived playstyle): the 7 days either side of each touched date are redone too. -#}
{{ config(materialized='incremental', unique_key='event_date', meta={'grain': 'daily', 'retention_key': 'event_date',
          'reprocess': {'families': ['gameplay'], 'spill_before': 7, 'spill_after': 7}}) }}

{#- Combat success rate (docs/requirements/gameplay.md#sampling designer dashboards) per day, encounter tier and cohort slice: engage_enemy
    events and those with outcome `win`, observed and sample-reweighted (Σ 1/sample_rate). The slices (class,
    region, playstyle) are the player's, from dim_gameplay_players (the first session), as in
    agg_gameplay_cohorts; `unknown` when the event has no player or the player no session yet. -#}

with

engagements as (
    select
        event_date,
        player_key,
        coalesce(encounter_tier, 'unknown') as encounter_tier,
        outcome,
        sample_rate
    from {{ ref('stg_gameplay__events') }}
    where event_type = 'engage_enemy'
        and {{ reprocess_filter('event_date') }}
),

players as (
    select
        player_key,
        character_class,
        region,
        playstyle
    from {{ ref('dim_gameplay_players') }}
),

sliced as (
    select
        engagements.event_date,
        engagements.encounter_tier,
        coalesce(players.character_class, 'unknown') as character_class,
        coalesce(players.region, 'unknown') as region,
        coalesce(players.playstyle, 'unknown') as playstyle,
        engagements.player_key,
        engagements.outcome,
        engagements.sample_rate
    from engagements
    left join players
        on engagements.player_key = players.player_key
),

totals as (
    select
        event_date,
        encounter_tier,
        character_class,
        region,
        playstyle,
        count(distinct player_key) as distinct_players,
        count(*) as engagements,
        sum(1.0 / sample_rate) as engagements_estimated,
        sum(case when outcome = 'win' then 1 else 0 end) as wins,
        sum(case when outcome = 'win' then 1.0 / sample_rate else 0 end) as wins_estimated
    from sliced
    group by event_date, encounter_tier, character_class, region, playstyle
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(encounter_tier as string) as encounter_tier,
        cast(character_class as string) as character_class,
        cast(region as string) as region,
        cast(playstyle as string) as playstyle,
        cast(distinct_players as bigint) as distinct_players,
        cast(engagements as bigint) as engagements,
        cast(wins as bigint) as wins,
        {{ safe_divide('wins', 'engagements') }} as combat_success_rate,
        cast(engagements_estimated as double) as engagements_estimated,
        cast(wins_estimated as double) as wins_estimated,
        {{ safe_divide('wins_estimated', 'engagements_estimated') }} as combat_success_rate_estimated
    from totals
)

select * from final
