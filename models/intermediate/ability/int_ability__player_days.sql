{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
        pre_hook="{{ family_delete_dates_to_reprocess(ability_event_types()) }}",
    )
}}
{{ family_incremental_depends_on() }}
{{ guard_incremental_full_refresh(ability_event_types(), ref('stg_ability__metric_summary'), "'ability_metric_summary'") }}

{#- Player-day activity per entry and tier: weekly distinct players are counted from it, never summed from
    daily distinct counts (DESIGN §8). Persisted (incremental) so it outlives the raw retention. -#}

with

{% if is_incremental() -%}
dates_to_reprocess as (
    {{ family_dates_to_reprocess(ability_event_types()) }}
),
{%- endif %}

summaries as (
    select
        event_date,
        entry,
        tier,
        player_key
    from {{ ref('stg_ability__metric_summary') }}
    where player_key is not null
    {%- if is_incremental() %}
        and event_date in (select event_date from dates_to_reprocess)
    {%- endif %}
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(entry as varchar) as entry,
        cast(tier as bigint) as tier,
        cast(player_key as varchar) as player_key,
        cast(count(*) as bigint) as summaries,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from summaries
    group by event_date, entry, tier, player_key
)

select * from final
