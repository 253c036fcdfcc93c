{{ config(materialized='incremental', unique_key='week_start', meta={'grain': 'weekly', 'retention_key': 'week_start'}) }}

{{ gameplay_period_rollup('week') }}
