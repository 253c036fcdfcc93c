{#- Refuses `--full-refresh` of an incremental model of `family` (gameplay, learning) when the rebuild would lose
    history (DESIGN §7): when the ledger recorded partitions of the family that retention has since dropped from
    the lake and the table already exists, a rebuild would silently forget them. Raises a compiler error then,
    unless `--vars '{allow_full_refresh: true}'`. The generic form of guard_full_refresh (recsys): it reads the
    family's unioned staging model `stg_<family>__events`, which the calling model must declare with
    `-- depends_on: {{ ref('stg_<family>__events') }}`. -#}
{% macro guard_family_full_refresh(family) %}
    {%- if execute and should_full_refresh() and not var('allow_full_refresh', false) -%}
        {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
        {%- if existing is not none -%}
            {%- set check_query -%}
                select count(*) as partitions_gone
                from (
                    select distinct event_type, event_date
                    from {{ ref('stg_ops__ledger_partitions') }}
                    where landed > 0
                        and {{ dbt.split_part('event_type', "'_'", 1) }} = '{{ family }}'
                ) as recorded
                left join (
                    select distinct
                        {{ dbt.concat(["'" ~ family ~ "_'", 'event_type']) }} as event_type,
                        event_date
                    from {{ ref('stg_' ~ family ~ '__events') }}
                ) as in_lake
                    on recorded.event_type = in_lake.event_type
                    and recorded.event_date = in_lake.event_date
                where in_lake.event_date is null
            {%- endset -%}
            {%- set partitions_gone = run_query(check_query).columns[0].values()[0] -%}
            {%- if partitions_gone > 0 -%}
                {{ exceptions.raise_compiler_error(
                    this.identifier ~ ": --full-refresh would lose history: " ~ partitions_gone
                    ~ " " ~ family ~ " partition(s) the ledger recorded are no longer in the lake (retention), and"
                    ~ " this table still holds their rows. Rebuild anyway with --vars '{allow_full_refresh: true}'."
                ) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
