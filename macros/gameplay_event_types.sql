{#- The qualified lake event types of the gameplay family (seed 002), `gameplay_<type>`, as a list. -#}
{% macro gameplay_event_types() %}
    {%- set types = [] -%}
    {%- for event_type in gameplay_event_categories() -%}
        {%- do types.append('gameplay_' ~ event_type) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
