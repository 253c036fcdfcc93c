{#- The learning event types (seed 004, schemas/learning/) and their category, as a dict event_type →
    category (session, behavioral, focus, social). -#}
{% macro learning_event_categories() %}
    {{ return({
        'mission_start': 'session',
        'mission_complete': 'session',
        'task_start': 'session',
        'task_complete': 'session',
        'choice_made': 'behavioral',
        'retry': 'behavioral',
        'restart': 'behavioral',
        'failure': 'behavioral',
        'mistake': 'behavioral',
        'recovery': 'behavioral',
        'success_after_failure': 'behavioral',
        'distraction': 'focus',
        'pause': 'focus',
        'collaboration': 'social',
        'help_given': 'social',
        'help_received': 'social',
        'leadership': 'social',
        'initiative': 'social',
        'decision_made': 'social',
    }) }}
{% endmacro %}
