with

source as (
    select
        event_id,
        schema_version,
        occurred_at,
        received_at,
        batch_id,
        player_key,
        hash_key_id,
        sample_rate,
        shard,
        entry,
        snapshot,
        activation_id,
        metrics,
        meta,
        event_date
    from {{ source('lake_ability', 'metric_summary') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_id', order_by='received_at, batch_id') }}
),

-- seed 001 §5: channels, fields/auras and events emit ticks and a final snapshot; an activation counts once,
-- by its final snapshot when one exists, else by its ticks
finals as (
    select distinct
        player_key,
        entry,
        activation_id
    from deduplicated
    where snapshot = 'final'
        and activation_id is not null
),

final as (
    select
        deduplicated.event_id,
        deduplicated.player_key,
        hash_key_id,
        shard,
        deduplicated.entry,
        {{ dbt.split_part('deduplicated.entry', "'.'", 1) }} as namespace,
        {{ dbt.split_part('deduplicated.entry', "'.'", 2) }} as entry_id,
        snapshot,
        deduplicated.activation_id,
        not coalesce(snapshot = 'tick' and finals.activation_id is not null, false) as is_counted,
        meta.tier as tier,
        meta.tags as tags,
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        metrics.{{ key }} as {{ key }},
        {%- endfor %}
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        meta.sample_rates.{{ key }} as {{ key }}_stated_sample_rate,
        {%- endfor %}
        sample_rate,
        schema_version,
        occurred_at,
        cast(event_date as date) as event_date,
        received_at,
        batch_id
    from deduplicated
    left join finals
        on deduplicated.player_key is not distinct from finals.player_key
        and deduplicated.entry = finals.entry
        and deduplicated.activation_id = finals.activation_id
)

select * from final
