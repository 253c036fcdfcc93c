-- depends_on: {{ ref('stg_ops__ledger_partitions') }} (built first: this view's data tests read the ledger, reprocess_test_filter)
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
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

-- docs/requirements/ability.md#emission-timing: channels, fields/auras and events emit ticks and a final snapshot; an activation counts once,
-- by its final snapshot when one exists that day, else by its ticks. A window within the date partition (not a
-- self-join of the deduplicated rows), so a filter on event_date still prunes the lake partitions.
flagged as (
    select
        *,
        max(case when snapshot = 'final' and activation_id is not null then 1 else 0 end) over (
            partition by event_date, player_key, entry, activation_id
        ) as has_final
    from deduplicated
),

final as (
    select
        flagged.event_id,
        flagged.player_key,
        flagged.hash_key_id,
        flagged.shard,
        flagged.entry,
        {{ dbt.split_part('entry', "'.'", 1) }} as namespace,
        {{ dbt.split_part('entry', "'.'", 2) }} as entry_id,
        flagged.snapshot,
        flagged.activation_id,
        not coalesce(snapshot = 'tick' and flagged.activation_id is not null and flagged.has_final = 1, false)
            as is_counted,
        meta.tier,
        meta.tags,
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        metrics.{{ key }} as {{ key }},
        {%- endfor %}
        {%- for key in registry_struct_fields('ability_metric_summary', 'metrics') %}
        meta.sample_rates.{{ key }} as {{ key }}_stated_sample_rate,
        {%- endfor %}
        flagged.sample_rate,
        flagged.schema_version,
        flagged.occurred_at,
        cast(event_date as date) as event_date,
        flagged.received_at,
        flagged.batch_id
    from flagged
)

select * from final
