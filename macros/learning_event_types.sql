{#- The qualified lake event types of the learning family (seed 004), `learning_<type>`, as a list. -#}
{% macro learning_event_types() %}
    {%- set types = [] -%}
    {%- for event_type in learning_event_categories() -%}
        {%- do types.append('learning_' ~ event_type) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
