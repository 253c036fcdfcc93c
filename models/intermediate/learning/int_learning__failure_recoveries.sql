{#- One row per failure event and whether it was recovered (the macro learning_failure_recoveries). Incremental by
    session, like int_learning__session_tasks: a build redoes the sessions of the events new batches landed, from
    every day they have events on (the index int_learning__session_days). -#}
{{ config(materialized='incremental', unique_key='session_id', meta={'reprocess': {
    'families': ['learning'], 'keys_from': {'model': 'stg_learning__events', 'column': 'session_id'}}}) }}
{%- set session_days = ref('int_learning__session_days') %}
{%- set keys_sql -%}
    select distinct session_id from {{ session_days }} where {{ reprocess_filter('session_id') }}
{%- endset %}

select
    failure_recoveries.*
from ({{ learning_failure_recoveries(session_event_dates(session_days, keys_sql) ~ ' and ' ~ reprocess_filter('session_id')) | indent(4) }}) as failure_recoveries
