{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='month_start',
        on_schema_change='fail',
        pre_hook="{{ delete_rows_to_reprocess('month_start', 'select distinct ' ~ period_start('month', 'reprocessed.event_date') ~ ' from (' ~ gameplay_dates_to_reprocess() ~ ') as reprocessed') }}",
    )
}}
{{ family_incremental_depends_on() }}
-- depends_on: {{ ref('stg_gameplay__events') }}
{{ guard_family_full_refresh('gameplay') }}

{{ gameplay_period_rollup('month') }}
