{#- The qualified lake event types of the recsys family (seed 003), as a list of strings. -#}
{% macro recsys_event_types() %}
    {{ return(['recsys_request', 'recsys_ranking', 'recsys_impression', 'recsys_click', 'recsys_error']) }}
{% endmacro %}
