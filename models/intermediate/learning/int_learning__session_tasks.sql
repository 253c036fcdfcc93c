{#- One row per (session, task) with a task event (the macro learning_session_tasks, over every session). -#}
{{ learning_session_tasks() }}
