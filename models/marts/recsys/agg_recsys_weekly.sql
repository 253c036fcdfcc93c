{{ config(materialized='incremental', unique_key='week_start') }}
{{ reprocess_depends_on() }}

{{ recsys_period_rollup('week') }}
