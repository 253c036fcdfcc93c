{{ config(materialized='incremental', unique_key='month_start', meta={'grain': 'monthly', 'retention_key': 'month_start'}) }}
{{ reprocess_depends_on() }}

{{ gameplay_period_rollup('month') }}
