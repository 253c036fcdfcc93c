{#- The metric keys of the central metric registry (seed 001 §3, §11), in registry order: the fields of the
    lake's `metrics` struct. The seed ability_metric_registry holds the same keys with their type, unit and
    default sample rate; a singular test (ability_metric_keys_match_registry) and a pytest test (against the
    JSON Schema) keep the three equal. -#}
{% macro ability_metric_keys() %}
    {{ return([
        'casts',
        'uptime_seconds',
        'damage_total',
        'damage_true_total',
        'healing_total',
        'overheal_total',
        'lifesteal_heal',
        'cc_applied_count',
        'cc_full_duration_count',
        'resource_generated',
        'resource_spent',
        'internal_cooldown_hits',
        'participants',
        'meteor_count',
        'clone_count',
        'entity_spawns',
        'execution_count',
        'revive_count',
        'dash_distance_total',
        'pull_events',
        'reflect_count',
        'cc_applied_duration_seconds',
        'silence_applied_count',
        'silence_duration_seconds',
        'window_seconds',
    ]) }}
{% endmacro %}
