{#- The gameplay event types (seed 002 taxonomy, schemas/gameplay/) and their category, as a dict
    event_type → category (lifecycle, combat, progression, social, heartbeat). The staging union and the
    rollups iterate it; keep it equal to the registry (the singular test gameplay_event_types_match_registry
    compares it with the lake sources). -#}
{% macro gameplay_event_categories() %}
    {{ return({
        'session_start': 'lifecycle',
        'session_end': 'lifecycle',
        'session_crash': 'lifecycle',
        'reconnect': 'lifecycle',
        'engage_enemy': 'combat',
        'ability_cast': 'combat',
        'damage_dealt': 'combat',
        'damage_taken': 'combat',
        'death': 'combat',
        'xp_gain': 'progression',
        'skill_rank_up': 'progression',
        'loot_drop': 'progression',
        'inventory_move': 'progression',
        'craft_result': 'progression',
        'party_create': 'social',
        'party_join': 'social',
        'emote_played': 'social',
        'friend_invite': 'social',
        'chat_message': 'social',
        'client_tick': 'heartbeat',
        'aoi_population': 'heartbeat',
        'snapshot_size': 'heartbeat',
    }) }}
{% endmacro %}
