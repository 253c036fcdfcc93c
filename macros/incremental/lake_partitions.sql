{#- `select event_type, event_date` of every partition the lake holds now (its folders,
    `lake/events/event_type=<t>/event_date=<d>/`), without reading a row: a file listing. The lake root is the
    one the sources read (`$TELEMETRY_DATA_DIR/lake`). DuckDB's glob() behind adapter.dispatch. -#}
{% macro lake_partitions() %}
    {{ return(adapter.dispatch('lake_partitions')()) }}
{% endmacro %}

{% macro default__lake_partitions() %}
    select distinct
        regexp_extract(file, 'event_type=([^/]+)/', 1) as event_type,
        cast(regexp_extract(file, 'event_date=([^/]+)/', 1) as date) as event_date
    from glob('{{ env_var("TELEMETRY_DATA_DIR", "data") }}/lake/*/event_type=*/event_date=*/*.parquet')
{% endmacro %}

{#- Spark: the partitions of the lake tables (create_lake_sources), one branch per event type; only the partition
    column is read. -#}
{% macro spark__lake_partitions() %}
    {%- set branches = [] -%}
    {%- for node in graph.sources.values() if node.source_name.startswith('lake_') -%}
        {%- set hive_type = modules.re.search('event_type=([^/]+)/', node.config.get('external_location') or '') -%}
        {%- if hive_type -%}
            {%- do branches.append("select distinct '" ~ hive_type.group(1) ~ "' as event_type, event_date from "
                                   ~ node.schema ~ '.' ~ node.identifier) -%}
        {%- endif -%}
    {%- endfor %}
    {{ branches | join('\n    union all\n    ') }}
{% endmacro %}
