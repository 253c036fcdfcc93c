{#- One row per failure event and whether it was recovered (the macro learning_failure_recoveries, over every
    session). -#}
{{ learning_failure_recoveries() }}
