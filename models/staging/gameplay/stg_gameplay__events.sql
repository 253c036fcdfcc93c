{#- Every gameplay event type in one typed relation: the lake envelope, the fields several types share and the
    measures the marts use (a field a type lacks is null). Type-specific detail stays in the lake tables. -#}
{#- A staging table, incremental by event date, and a copy of raw events (docs/warehouse.md "Staging tables"). -#}
{{ config(materialized='table' if target.type == 'spark' else 'incremental', unique_key='event_date',
          meta={'retention': 'raw', 'retention_key': 'event_date'}) }}
{%- set columns = [
    ['event_id', 'string'],
    ['player_key', 'string'],
    ['session_id', 'string'],
    ['hash_key_id', 'string'],
    ['client_guid', 'string'],
    ['seq', 'bigint'],
    ['match_id', 'string'],
    ['build', 'string'],
    ['platform', 'string'],
    ['shard', 'string'],
    ['region', 'string'],
    ['character_class', 'string'],
    ['playstyle', 'string'],
    ['game_mode', 'string'],
    ['end_reason', 'string'],
    ['match_result', 'string'],
    ['crash_code', 'string'],
    ['downtime_ms', 'bigint'],
    ['encounter_tier', 'string'],
    ['enemy_type', 'string'],
    ['enemy_controller', 'string'],
    ['outcome', 'string'],
    ['ability_id', 'string'],
    ['ability_name', 'string'],
    ['target_kind', 'string'],
    ['amount', 'double'],
    ['unit_type', 'string'],
    ['killer_controller', 'string'],
    ['killer_player_id', 'string'],
    ['skill_id', 'string'],
    ['new_rank', 'bigint'],
    ['item_id', 'string'],
    ['quantity', 'bigint'],
    ['rarity', 'string'],
    ['recipe_id', 'string'],
    ['is_success', 'boolean'],
    ['party_id', 'string'],
    ['emote_id', 'string'],
    ['invitee_player_id', 'string'],
    ['channel', 'string'],
    ['text_length', 'bigint'],
    ['message_length', 'bigint'],
    ['tick', 'bigint'],
    ['fps', 'double'],
    ['rtt_ms', 'double'],
    ['entities', 'bigint'],
    ['bytes', 'bigint'],
    ['sample_rate', 'double'],
    ['schema_version', 'string'],
    ['occurred_at', 'timestamp'],
    ['event_date', 'date'],
    ['received_at', 'timestamp'],
    ['batch_id', 'string'],
] -%}

with

source as (
    {{ union_lake_tables('lake_gameplay', registry_event_categories('gameplay'), columns, reprocessed=true) }}
),

-- within each date partition, like the ingest's own dedup (docs/warehouse.md "Dedup"): a filter on event_date
-- still prunes the lake partitions through this view; then the docs/requirements/gameplay.md#dedup dedup tuple (player, client_guid, seq) for
-- the events that carry it (an SDK event has no seq, docs/sdks.md: its own event id is its only identity, so the
-- last partition term keeps each such event in a partition of its own)
unique_event_ids as (
    {{ deduplicate('source', partition_by='event_date, event_id', order_by='received_at, batch_id') }}
),

deduplicated as (
    {{ deduplicate('unique_event_ids',
                   partition_by='event_date, player_key, client_guid, seq, '
                                ~ 'case when client_guid is null or seq is null then event_id end',
                   order_by='received_at, batch_id, event_id', rank_column='_dedup_tuple_row_number') }}
),

final as (
    select
        event_id,
        event_type,
        event_category,
        player_key,
        session_id,
        hash_key_id,
        client_guid,
        seq,
        match_id,
        build,
        platform,
        shard,
        region,
        character_class,
        playstyle,
        game_mode,
        end_reason,
        match_result,
        crash_code,
        downtime_ms,
        encounter_tier,
        enemy_type,
        enemy_controller,
        outcome,
        ability_id,
        ability_name,
        target_kind,
        amount,
        unit_type,
        killer_controller,
        killer_player_id as killer_player_key,
        skill_id,
        new_rank,
        item_id,
        quantity,
        rarity,
        recipe_id,
        is_success,
        party_id,
        emote_id,
        invitee_player_id as invitee_player_key,
        channel,
        text_length,
        message_length,
        tick,
        fps,
        rtt_ms,
        entities,
        bytes,
        sample_rate,
        schema_version,
        occurred_at,
        event_date,
        received_at,
        batch_id
    from deduplicated
)

select * from final
