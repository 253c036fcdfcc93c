{#- One row per (session, task) with a task event (the macro learning_session_tasks). Incremental by session: a
    build redoes the sessions of the events new batches landed, from every day they have events on (the index
    int_learning__session_days), so it and its data tests read those sessions' partitions, not the history. -#}
{{ config(materialized='incremental', unique_key='session_id', meta={'reprocess': {
    'families': ['learning'], 'keys_from': {'model': 'stg_learning__events', 'column': 'session_id'}}}) }}
{%- set session_days = ref('int_learning__session_days') %}
{%- set keys_sql -%}
    select distinct session_id from {{ session_days }} where {{ reprocess_filter('session_id') }}
{%- endset %}

select
    session_tasks.*
from ({{ learning_session_tasks(session_event_dates(session_days, keys_sql) ~ ' and ' ~ reprocess_filter('session_id')) | indent(4) }}) as session_tasks
