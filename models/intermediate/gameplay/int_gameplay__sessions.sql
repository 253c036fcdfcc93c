{#- Every gameplay session, from the whole of stg_gameplay__events: the sessionization rules are the macro
    gameplay_sessions (docs/families/gameplay.md), which fct_gameplay_sessions runs over the sessions a build
    touches. -#}
{{ gameplay_sessions() }}
