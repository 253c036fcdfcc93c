{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='month_start',
        on_schema_change='fail',
        pre_hook="{{ recsys_delete_dates_to_reprocess('month') }}",
    )
}}
{{ recsys_incremental_depends_on() }}
{{ guard_full_refresh() }}

{{ recsys_period_rollup('month') }}
