{#- Makes the lake sources readable by the target engine; run once per invocation (dbt_project.yml
    on-run-start). DuckDB reads them where they are (each source's `external_location`, a read_parquet() over
    the lake folders): nothing to do. Spark gets one external Parquet table per source, over the same folders:
    `<source>.<table>__files_<digest>` with the columns and types the source YAML declares (the registry's newest column
    set, the role `_schemas/` plays for DuckDB: a type with no data yet is an empty table, an older file lacks a
    newer column and reads null), partitioned by `event_date`, and the view `<source>.<table>` dbt's source()
    names, adding the hive `event_type`. A table is created again only when its definition (columns, folder)
    changed, under a new digest (dropping the old external table leaves its files); partitions are discovered at read time
    (spark.sql.hive.manageFilesourcePartitions=false in the profile). -#}
{% macro create_lake_sources() %}
    {{ return(adapter.dispatch('create_lake_sources', 'telemetry')()) }}
{% endmacro %}

{% macro default__create_lake_sources() %}
{% endmacro %}

{% macro spark__create_lake_sources() %}
    {%- if execute -%}
        {%- set wanted = {} -%}
        {%- for node in graph.sources.values() if node.source_name.startswith('lake_') -%}
            {%- set location = node.config.get('external_location') or '' -%}
            {%- set found = modules.re.search("read_parquet\\('([^']+)'", location) -%}
            {%- if not found -%}
                {{ exceptions.raise_compiler_error("create_lake_sources: " ~ node.unique_id ~ " has no read_parquet() external_location") }}
            {%- endif -%}
            {%- set glob = found.group(1) -%}
            {%- set hive_type = modules.re.search('event_type=([^/]+)/', glob) -%}
            {%- if hive_type -%}
                {%- set folder = glob.split('/lake/')[0] ~ '/lake/events/event_type=' ~ hive_type.group(1) -%}
            {%- else -%}
                {%- set folder = glob.rsplit('/', 1)[0] -%}
            {%- endif -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() if not (hive_type and column.name in ('event_type', 'event_date')) -%}
                {%- do columns.append('`' ~ column.name ~ '` ' ~ spark_lake_type(column.data_type)) -%}
            {%- endfor -%}
            {%- if hive_type -%}
                {%- do columns.append('`event_date` date') -%}
            {%- endif -%}
            {%- set definition = '(' ~ columns | join(', ') ~ ') using parquet'
                ~ (' partitioned by (event_date)' if hive_type else '') ~ " location '" ~ folder ~ "'" -%}
            {#- the table's name carries a digest of its definition: an unchanged source costs nothing -#}
            {%- set files = node.identifier ~ '__files_' ~ local_md5(definition)[:10] -%}
            {%- do wanted.setdefault(node.schema, []).append({
                'view': node.identifier, 'files': files, 'definition': definition,
                'event_type': hive_type.group(1) if hive_type else none}) -%}
        {%- endfor -%}
        {%- for schema, tables in wanted.items() -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
            {%- set existing = run_query('show tables in ' ~ schema).columns[1].values() | map('lower') | list -%}
            {%- for table in tables if table.files | lower not in existing -%}
                {%- do run_query('create table ' ~ schema ~ '.' ~ table.files ~ ' ' ~ table.definition) -%}
                {%- do run_query(
                    'create or replace view ' ~ schema ~ '.' ~ table.view ~ ' as select *'
                    ~ (", '" ~ table.event_type ~ "' as event_type" if table.event_type else '')
                    ~ ' from ' ~ schema ~ '.' ~ table.files
                ) -%}
                {%- for stale in existing if stale.startswith(table.view | lower ~ '__files_') -%}
                    {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ stale) -%}
                {%- endfor -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}


{#- A DuckDB type as the source YAML writes it (`varchar`, `struct(a bigint, b varchar[])[]`, …) in Spark DDL
    (`string`, `array<struct<a:bigint,b:array<string>>>`). -#}
{% macro spark_lake_type(duckdb_type) %}
    {%- set state = {'type': (duckdb_type or 'string') | lower} -%}
    {%- for _ in range(50) -%}
        {%- set inner = modules.re.search('struct\\(([^()]*)\\)', state.type) -%}
        {%- if inner -%}
            {%- set fields = [] -%}
            {%- for field in inner.group(1).split(', ') -%}
                {%- set parts = field.strip().split(' ', 1) -%}
                {%- do fields.append('`' ~ parts[0] ~ '`:' ~ _spark_scalar_or_array(parts[1].strip())) -%}
            {%- endfor -%}
            {%- do state.update({'type': state.type[:inner.start()] ~ 'struct<' ~ fields | join(',') ~ '>' ~ state.type[inner.end():]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(_spark_scalar_or_array(state.type)) }}
{% endmacro %}

{% macro _spark_scalar_or_array(type) %}
    {%- if type.endswith('[]') -%}
        {{ return('array<' ~ _spark_scalar_or_array(type[:-2]) ~ '>') }}
    {%- endif -%}
    {{ return({'varchar': 'string', 'blob': 'binary', 'text': 'string'}.get(type, type)) }}
{% endmacro %}
