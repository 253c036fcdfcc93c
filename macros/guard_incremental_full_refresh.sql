{#- Refuses `--full-refresh` of an existing incremental model when the ledger recorded partitions of
    `event_types` (qualified lake types) that are no longer in the lake (dropped by retention): aggregates
    outlive raw data, so the rebuild would silently forget them (DESIGN §7). The form of guard_full_refresh
    (recsys) for models over any set of lake types: `relation` is a model over the lake with an `event_date`
    column and `event_type_sql` the SQL expression of the qualified lake type of its rows (e.g.
    "'politics_' || event_type"). Override with `--vars '{allow_full_refresh: true}'`. Pass `relation` as a
    `ref()` so dbt records the dependency. -#}
{% macro guard_incremental_full_refresh(event_types, relation, event_type_sql) %}
    {%- if execute and should_full_refresh() and not var('allow_full_refresh', false) -%}
        {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- if existing is not none -%}
            {%- set types_list = "'" ~ event_types | join("', '") ~ "'" -%}
            {%- set check_query -%}
                select count(*) as partitions_gone
                from (
                    select distinct event_type, event_date
                    from {{ ref('stg_ops__ledger_partitions') }}
                    where landed > 0
                        and event_type in ({{ types_list }})
                ) as recorded
                left join (
                    select distinct
                        {{ event_type_sql }} as event_type,
                        event_date
                    from {{ relation }}
                ) as in_lake
                    on recorded.event_type = in_lake.event_type
                    and recorded.event_date = in_lake.event_date
                where in_lake.event_date is null
            {%- endset -%}
            {%- set partitions_gone = run_query(check_query).columns[0].values()[0] -%}
            {%- if partitions_gone > 0 -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ ": --full-refresh would lose history: " ~ partitions_gone
                    ~ " partition(s) the ledger recorded are no longer in the lake (retention), and this"
                    ~ " table still holds their rows. Rebuild anyway with --vars '{allow_full_refresh: true}'."
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
