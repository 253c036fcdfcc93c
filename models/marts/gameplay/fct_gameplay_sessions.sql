{{ config(materialized='incremental', unique_key='session_date', on_schema_change='append_new_columns') }}
{{ reprocess_depends_on() }}

with

sessions as (
    select *
    from {{ ref('int_gameplay__sessions') }}
    where {{ reprocess_filter('session_date') }}
),

final as (
    select
        *,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from sessions
)

select * from final
