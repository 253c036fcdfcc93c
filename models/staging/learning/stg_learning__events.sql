{#- Every learning event type (docs/requirements/learning.md#events) in one typed relation; all types share the seed's single-event shape. -#}
{#- A staging table, incremental by event date, and a copy of raw events (docs/warehouse.md "Staging tables"). -#}
{{ config(materialized='table' if target.type == 'spark' else 'incremental', unique_key='event_date',
          meta={'retention': 'raw', 'retention_key': 'event_date'}) }}
{%- set columns = [
    ['event_id', 'string'],
    ['player_key', 'string'],
    ['session_id', 'string'],
    ['hash_key_id', 'string'],
    ['mission_id', 'string'],
    ['task_id', 'string'],
    ['sequence', 'bigint'],
    ['game_version', 'string'],
    ['client_version', 'string'],
    ['data', 'string'],
    ['sample_rate', 'double'],
    ['schema_version', 'string'],
    ['occurred_at', 'timestamp'],
    ['event_date', 'date'],
    ['received_at', 'timestamp'],
    ['batch_id', 'string'],
] -%}

with

source as (
    {{ union_lake_tables('lake_learning', registry_event_categories('learning'), columns, reprocessed=true) }}
),

deduplicated as (
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

final as (
    select
        event_id,
        event_type,
        event_category,
        player_key,
        session_id,
        hash_key_id,
        mission_id,
        task_id,
        sequence,
        game_version,
        client_version,
        data as data_json,
        sample_rate,
        schema_version,
        occurred_at,
        event_date,
        received_at,
        batch_id
    from deduplicated
)

select * from final
