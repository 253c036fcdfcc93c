{{ config(materialized='incremental', unique_key='week_start', meta={'grain': 'weekly', 'retention_key': 'week_start'}) }}

{{ recsys_period_rollup('week') }}
