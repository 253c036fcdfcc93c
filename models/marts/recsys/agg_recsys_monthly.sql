{{ config(materialized='incremental', unique_key='month_start', meta={'grain': 'monthly', 'retention_key': 'month_start'}) }}

{{ recsys_period_rollup('month') }}
