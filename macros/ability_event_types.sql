{#- The qualified lake event types of the ability-metrics family (seed 001): one constant type. -#}
{% macro ability_event_types() %}
    {{ return(['ability_metric_summary']) }}
{% endmacro %}
