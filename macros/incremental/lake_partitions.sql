{#- `select event_type, event_date` of every partition the lake holds now (its folders,
    `lake/events/event_type=<t>/event_date=<d>/`), without reading a row: a file listing. The lake root is the
    one the sources read (`$TELEMETRY_DATA_DIR/lake`). DuckDB's glob() behind adapter.dispatch. -#}
{% macro lake_partitions(dates=none) %}
    {{ return(adapter.dispatch('lake_partitions')(dates)) }}
{% endmacro %}

{#- `dates` (strings 'YYYY-MM-DD'), when given, limits the listing to those dates' folders (at least those:
    callers still filter on event_date), so a check about a few dates does not list a year of files. -#}
{% macro default__lake_partitions(dates=none) %}
    {%- set root = env_var("TELEMETRY_DATA_DIR", "data") ~ "/lake/*/event_type=*/event_date=" -%}
    {%- set patterns = [] -%}
    {%- for day in (dates if dates is not none else ['*']) -%}
        {%- do patterns.append("'" ~ root ~ day ~ "/*.parquet'") -%}
    {%- endfor -%}
    {%- if patterns | length == 0 -%}
        {%- do patterns.append("'" ~ root ~ "*/*.parquet'") -%}
    {%- endif %}
    select distinct
        regexp_extract(file, 'event_type=([^/]+)/', 1) as event_type,
        cast(regexp_extract(file, 'event_date=([^/]+)/', 1) as date) as event_date
    from ({% for pattern in patterns %}select file from glob({{ pattern }}){{ " union all " if not loop.last }}{% endfor %}) as files
{% endmacro %}

{#- Spark: the partitions of the lake tables (create_lake_sources), one branch per event type; only the partition
    column is read. -#}
{% macro spark__lake_partitions(dates=none) %}
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


{#- The lake partitions of `dates` (strings 'YYYY-MM-DD'), as a dict: lake event type → its dates there (strings,
    sorted). One file listing (lake_partitions). -#}
{% macro lake_partitions_of(dates) %}
    {%- set found = {} -%}
    {%- if dates | length > 0 -%}
        {%- for row in run_query(lake_partitions(dates)).rows -%}
            {%- do found.setdefault(row[0], []).append(row[1] | string) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{% endmacro %}


{#- DuckDB: the `read_parquet` of lake source `node` (a graph source) over only the partition folders of its
    event type that `partitions` (lake_partitions_of) lists, plus the type's schema sentinel
    (`lake/_schemas/`, no rows: the newest columns, and a file to read when no partition is listed); the
    source's own options (hive partitioning, union_by_name). Binding it opens those files only. -#}
{% macro reprocessed_lake_relation(node, partitions) %}
    {%- set read = lake_read_parquet(node) -%}
    {%- set hive_type = modules.re.search('event_type=([^/]+)/', read.glob) -%}
    {%- if not hive_type -%}
        {{ exceptions.raise_compiler_error("reprocessed_lake_relation: " ~ node.unique_id ~ " does not read one lake event type") }}
    {%- endif -%}
    {%- set root = read.glob.split('/lake/')[0] ~ '/lake/' -%}
    {%- set globs = [root ~ '_schemas/event_type=' ~ hive_type.group(1) ~ '/*/*.parquet'] -%}
    {%- for day in partitions.get(hive_type.group(1), []) -%}
        {%- do globs.append(root ~ 'events/event_type=' ~ hive_type.group(1) ~ '/event_date=' ~ day ~ '/*.parquet') -%}
    {%- endfor -%}
    {{ return("read_parquet([" ~ sql_literals(globs) ~ "]" ~ read.options ~ ")") }}
{% endmacro %}


{#- The ledger to read (`relation`: source lake_ops.ledger); on an incremental run of the model being built
    (`this`), the `read_parquet` of only the files of batches it does not hold yet, plus the folder's zero-row
    `_schema.parquet` (its columns, and a file to read when no batch is new). The ledger is append-only: one
    immutable file per batch, `<batch_id>.parquet` (docs/lake.md). One file listing and one query of `this`. -#}
{% macro new_ledger_files(relation) %}
    {%- if not (execute and is_incremental()) -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set read = lake_read_parquet(graph.sources['source.' ~ project_name ~ '.lake_ops.ledger']) -%}
    {%- set query -%}
        select file
        from glob('{{ read.glob }}')
        where not starts_with(parse_filename(file), '_')
            and parse_filename(file, true) not in (select batch_id from {{ this }})
        order by file
    {%- endset -%}
    {%- set files = [read.glob.rsplit('/', 1)[0] ~ '/_schema.parquet'] + run_query(query).columns[0].values() | list -%}
    {{ return("read_parquet([" ~ sql_literals(files) ~ "]" ~ read.options ~ ")") }}
{% endmacro %}


{#- A lake source's `external_location`, `read_parquet('<glob>'<options>)`, as {glob, options} (options with
    their leading comma, e.g. `, hive_partitioning = true, union_by_name = true`). -#}
{% macro lake_read_parquet(node) %}
    {%- set found = modules.re.search("read_parquet\\('([^']+)'(.*)\\)\\s*$", node.config.get('external_location') or '') -%}
    {%- if not found -%}
        {{ exceptions.raise_compiler_error(node.unique_id ~ ": its external_location is not a read_parquet('<glob>', …)") }}
    {%- endif -%}
    {{ return({'glob': found.group(1), 'options': found.group(2)}) }}
{% endmacro %}
