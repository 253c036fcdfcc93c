{#- Refuses `--full-refresh` of an incremental recsys model when the rebuild would lose history (DESIGN §7):
    aggregates outlive raw data, so when the ledger recorded recsys partitions that are no longer in the lake
    (dropped by retention) and the table already exists, a full rebuild would silently forget them. Raises a
    compiler error then, unless `--vars '{allow_full_refresh: true}'`. Call it at the top of the model. -#}
{% macro guard_full_refresh() %}
    {%- if execute and this is not none and should_full_refresh() and not var('allow_full_refresh', false) -%}
        {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- if existing is not none -%}
            {%- set event_types = "'" ~ recsys_event_types() | join("', '") ~ "'" -%}
            {%- set check_query -%}
                select count(*) as partitions_gone
                from (
                    select distinct event_type, event_date
                    from {{ ref('stg_ops__ledger_partitions') }}
                    where landed > 0
                        and event_type in ({{ event_types }})
                ) as recorded
                left join (
                    select distinct event_type, event_date
                    from {{ ref('int_recsys__events_unioned') }}
                ) as in_lake
                    on recorded.event_type = in_lake.event_type
                    and recorded.event_date = in_lake.event_date
                where in_lake.event_date is null
            {%- endset -%}
            {%- set partitions_gone = run_query(check_query).columns[0].values()[0] -%}
            {%- if partitions_gone > 0 -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ ": --full-refresh would lose history: " ~ partitions_gone
                    ~ " recsys partition(s) the ledger recorded are no longer in the lake (retention), and this"
                    ~ " table still holds their rows. Rebuild anyway with --vars '{allow_full_refresh: true}'."
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
