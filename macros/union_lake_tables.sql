{#- `select … union all select …` over the lake tables of one source (one table per event type): each branch
    yields `event_type` (the table name), `event_category` (from `categories`, a dict table → category) and the
    requested `columns`, a list of [name, sql_type] pairs. A column the table does not declare in its
    (generated) source YAML becomes `cast(null as <sql_type>)`, so every branch has the same columns.
    `reprocessed`: an incremental model's body reads only the partitions of the dates this run redoes
    (reprocess_filter on event_date; on an incremental run each branch reads those partition folders alone,
    reprocessed_lake_relation, so binding it opens their files, not the history's). The source() calls are
    rendered at parse time too, so dbt records the lineage of every table. -#}
{% macro union_lake_tables(source_name, categories, columns, reprocessed=false) %}
    {%- set where = reprocess_filter('event_date') if reprocessed else none %}
    {%- set keys = reprocess_keys() if reprocessed and target.type == 'duckdb' else none %}
    {%- set partitions = lake_partitions_of(keys) if keys is not none else none %}
    {%- for table, category in categories.items() %}
    {%- set relation = source(source_name, table) %}
    {%- set declared = [] %}
    {%- if execute %}
        {%- set node = graph.sources.get('source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table) %}
        {%- if node is none %}
            {{ exceptions.raise_compiler_error("union_lake_tables: source " ~ source_name ~ "." ~ table ~ " is not declared") }}
        {%- endif %}
        {%- for name in node.columns %}
            {%- do declared.append(name) %}
        {%- endfor %}
        {%- if partitions is not none %}
            {%- set relation = reprocessed_lake_relation(node, partitions) %}
        {%- endif %}
    {%- endif %}
    select
        '{{ table }}' as event_type,
        '{{ category }}' as event_category,
        {%- for column in columns %}
        {%- if column[0] in declared %}
        cast({{ column[0] }} as {{ column[1] }}) as {{ column[0] }}{{ "," if not loop.last }}
        {%- else %}
        cast(null as {{ column[1] }}) as {{ column[0] }}{{ "," if not loop.last }}
        {%- endif %}
        {%- endfor %}
    from {{ relation }}
    {%- if where is not none %}
    where {{ where }}
    {%- endif %}
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
{% endmacro %}
