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
        metrics,
        meta,
        event_date
    from {{ source('lake_ability', 'metric_summary') }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_id', order_by='received_at, batch_id') }}
),

final as (
    select
        event_id,
        player_key,
        hash_key_id,
        shard,
        entry,
        {{ dbt.split_part('entry', "'.'", 1) }} as namespace,
        {{ dbt.split_part('entry', "'.'", 2) }} as entry_id,
        meta.tier as tier,
        meta.tags as tags,
        {%- for key in ability_metric_keys() %}
        metrics.{{ key }} as {{ key }},
        {%- endfor %}
        {%- for key in ability_metric_keys() %}
        meta.sample_rates.{{ key }} as {{ key }}_stated_sample_rate,
        {%- endfor %}
        sample_rate,
        schema_version,
        occurred_at,
        cast(event_date as date) as event_date,
        received_at,
        batch_id
    from deduplicated
)

select * from final
