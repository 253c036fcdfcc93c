{#- A row filter keeping the settled dates of a recsys model: those the late window (var
    recsys_late_window_days, docs/requirements/recsys.md#partitioning: T+2) has closed for the newest ingest clock in the ledger, i.e.
    `event_date` before (newest as_of date − late window). Join-integrity tests use it (pass_ratio row_filter):
    a click may land before its impression while both are inside the window, so an orphan only counts once no
    parent can still arrive (later events are quarantined too_late). Pass the ledger as `ref('stg_ops__ledger')`
    so that dbt sees the dependency. -#}
{% macro recsys_settled_dates(ledger, column='event_date') %}
    {{- column }} < (
        select {{ dbt.dateadd('day', -(var('recsys_late_window_days', 2) | int), 'cast(max(as_of) as date)') }}
        from {{ ledger }}
    )
{%- endmacro %}
