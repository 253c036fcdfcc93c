{#- One row per player and UTC day with activity in any family that has players. Families: gameplay (docs/requirements/gameplay.md),
    learning (docs/requirements/learning.md), recsys (docs/requirements/recsys.md) and politics (docs/requirements/politics.md); a family joins by adding its CTE to
    `family_days` and its name to `families` (the ability family has no staging model yet). -#}
{%- set families = ['gameplay', 'learning', 'recsys', 'politics'] -%}
{{ config(materialized='incremental', unique_key='activity_date', on_schema_change='append_new_columns') }}

with

gameplay_events as (
    select
        player_key,
        event_date as activity_date,
        event_category,
        event_type,
        outcome,
        sample_rate,
        occurred_at
    from {{ ref('stg_gameplay__events') }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
),

gameplay_sessions as (
    select
        player_key,
        session_date as activity_date,
        count(*) as sessions_started,
        sum(duration_seconds) as session_seconds
    from {{ ref('fct_gameplay_sessions') }}
    where player_key is not null
        and {{ reprocess_filter('session_date') }}
    group by player_key, session_date
),

learning_events as (
    select
        player_key,
        event_date as activity_date,
        sample_rate,
        occurred_at
    from {{ ref('stg_learning__events') }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
),

recsys_events as (
    {%- for event_type in registry_event_categories('recsys') %}
    {%- set model = 'stg_recsys__' ~ event_type %}
    select
        player_key,
        event_date as activity_date,
        sample_rate,
        occurred_at
    from {{ ref(model) }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

politics_events as (
    {%- for event_type in registry_event_types('politics') %}
    select
        player_key,
        event_date as activity_date,
        sample_rate,
        occurred_at
    from {{ ref('stg_' ~ event_type.replace('politics_', 'politics__', 1)) }}
    where player_key is not null
        and {{ reprocess_filter('event_date') }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

family_days as (
    select
        player_key,
        activity_date,
        'gameplay' as family,
        count(*) as events,
        sum(1.0 / sample_rate) as events_estimated,
        sum(case when event_category = 'combat' then 1 else 0 end) as combat_events,
        sum(case when event_category = 'combat' then 1.0 / sample_rate else 0 end) as combat_events_estimated,
        sum(case when event_type = 'engage_enemy' and outcome = 'win' then 1 else 0 end) as kills,
        sum(case when event_type = 'death' then 1 else 0 end) as deaths,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from gameplay_events
    group by player_key, activity_date
    {%- for family in ['learning', 'recsys', 'politics'] %}

    union all

    select
        player_key,
        activity_date,
        '{{ family }}' as family,
        count(*) as events,
        sum(1.0 / sample_rate) as events_estimated,
        0 as combat_events,
        0 as combat_events_estimated,
        0 as kills,
        0 as deaths,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from {{ family }}_events
    group by player_key, activity_date
    {%- endfor %}
),

player_days as (
    select
        player_key,
        activity_date,
        count(*) as families_active,
        {{ dbt.listagg('family', "','", "order by family") }} as families,
        sum(events) as events,
        sum(events_estimated) as events_estimated,
        {%- for family in families %}
        sum(case when family = '{{ family }}' then events else 0 end) as {{ family }}_events,
        {%- endfor %}
        sum(case when family = 'gameplay' then events_estimated else 0 end) as gameplay_events_estimated,
        sum(combat_events) as gameplay_combat_events,
        sum(combat_events_estimated) as gameplay_combat_events_estimated,
        sum(kills) as gameplay_kills,
        sum(deaths) as gameplay_deaths,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from family_days
    group by player_key, activity_date
),

final as (
    select
        player_days.player_key,
        cast(player_days.activity_date as date) as activity_date,
        cast(player_days.families_active as bigint) as families_active,
        cast(player_days.families as string) as families,
        player_days.gameplay_events > 0 as is_gameplay_active,
        player_days.learning_events > 0 as is_learning_active,
        cast(player_days.events as bigint) as events,
        cast(player_days.events_estimated as double) as events_estimated,
        {%- for family in families %}
        cast(player_days.{{ family }}_events as bigint) as {{ family }}_events,
        {%- endfor %}
        cast(player_days.gameplay_events_estimated as double) as gameplay_events_estimated,
        cast(coalesce(gameplay_sessions.sessions_started, 0) as bigint) as gameplay_sessions_started,
        cast(coalesce(gameplay_sessions.session_seconds, 0) as double) as gameplay_session_seconds,
        cast(player_days.gameplay_combat_events as bigint) as gameplay_combat_events,
        cast(player_days.gameplay_combat_events_estimated as double) as gameplay_combat_events_estimated,
        cast(player_days.gameplay_kills as bigint) as gameplay_kills,
        cast(player_days.gameplay_deaths as bigint) as gameplay_deaths,
        player_days.first_event_at,
        player_days.last_event_at
    from player_days
    left join gameplay_sessions
        on player_days.player_key = gameplay_sessions.player_key
        and player_days.activity_date = gameplay_sessions.activity_date
)

select * from final
