{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='session_date',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rows_to_reprocess('session_date', gameplay_dates_to_reprocess()) }}",
    )
}}
{{ family_incremental_depends_on() }}
-- depends_on: {{ ref('stg_gameplay__events') }}
{{ guard_family_full_refresh('gameplay') }}

with

{% if is_incremental() -%}
dates_to_reprocess as (
    {{ gameplay_dates_to_reprocess() }}
),
{%- endif %}

sessions as (
    select *
    from {{ ref('int_gameplay__sessions') }}
    {%- if is_incremental() %}
    where session_date in (select event_date from dates_to_reprocess)
    {%- endif %}
),

final as (
    select
        *,
        {{ ledger_stamp() }} as _ledger_finished_at_max
    from sessions
)

select * from final
