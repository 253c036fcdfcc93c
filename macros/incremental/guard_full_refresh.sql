{#- Pre-hook of every incremental model (dbt_project.yml): refuses `--full-refresh` when the rebuild would lose
    history (docs/requirements/design.md#retention). Aggregates outlive raw data, so when the ledger recorded partitions of any family the
    model reads (`meta.reprocess.families`) that are no longer in the lake (lake_partitions: dropped by
    retention) and the table already exists, a full rebuild would silently forget them: raises then, unless
    `--vars '{allow_full_refresh: true}'`. A copy of raw events (`meta.retention: raw`, the staging tables) is
    exempt: rebuilt from the lake, it holds what raw retention keeps. -#}
{% macro guard_full_refresh() %}
    {%- if follows_engine() and should_full_refresh()
            and not var('allow_full_refresh', false) and (config.get('meta') or {}).get('retention') != 'raw' -%}
        {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- set families = reprocess_spec().families -%}
        {%- if existing is not none and families | length > 0 -%}
            {%- set check_query -%}
                with

                recorded as (
                    select distinct event_type, event_date
                    from {{ ref('stg_ops__ledger_partitions') }}
                    where landed > 0
                        and event_type in ({{ sql_literals(registry_event_types(families)) }})
                ),

                in_lake as (
                    {{ lake_partitions() }}
                )

                select count(*) as partitions_gone
                from recorded
                left join in_lake
                    on recorded.event_type = in_lake.event_type
                    and recorded.event_date = in_lake.event_date
                where in_lake.event_date is null
            {%- endset -%}
            {%- set partitions_gone = run_query(check_query).columns[0].values()[0] -%}
            {%- if partitions_gone > 0 -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ ": --full-refresh would lose history: " ~ partitions_gone
                    ~ " partition(s) of " ~ families | join(", ") ~ " the ledger recorded are no longer in the lake"
                    ~ " (retention), and this table still holds their rows. Rebuild anyway with"
                    ~ " --vars '{allow_full_refresh: true}'."
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
