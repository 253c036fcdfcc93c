{{ config(materialized='incremental', unique_key='week_start', meta={'grain': 'weekly', 'retention_key': 'week_start'}) }}
{{ reprocess_depends_on() }}

{{ recsys_period_rollup('week') }}
