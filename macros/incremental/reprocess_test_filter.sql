{#- Data tests follow the ledger (docs/warehouse.md "Data tests follow the ledger"). dbt wraps the model a generic
    test reads in get_where_subquery(); this override adds, to the test's own `where` config, the keys this run
    recomputes, so a daily build tests the new day and not the history:
      - an incremental model: its unique_key in the keys reprocess_keys() returned for it in this invocation
        (`1 = 0` when it redid nothing); none (the whole table) when it was not built incrementally in this
        invocation (a full build, a `dbt test` alone);
      - a view of a family (staging, intermediate): its date column (`meta.reprocess.column`, else `event_date`,
        else `session_date`) in the dates of the ledger partitions its downstream incremental models have not
        processed yet (reprocess_view_dates), widened by `meta.reprocess.spill_before`;
      - anything else (tables, seeds, sources): the whole relation.
    `--vars '{full_tests: true}'` (or TELEMETRY_FULL_TESTS=true) checks every row: the test suite does, on its
    small lakes. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set conditions = [] -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set ledger = reprocess_test_filter(relation) -%}
    {%- if ledger -%}
        {%- do conditions.append(ledger) -%}
    {%- endif -%}
    {%- if conditions | length > 0 -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#- The ledger condition for a test on `relation` (see get_where_subquery), or none for a full check. -#}
{% macro reprocess_test_filter(relation) %}
    {%- if not execute or var('full_tests', false) | string | lower in ('true', '1', 'yes') or relation.identifier is not defined -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = reprocess_model_node(relation.identifier) -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set materialized = node.config.materialized -%}
    {%- set spec = (node.config.meta or {}).get('reprocess') or {} -%}
    {%- if materialized == 'incremental' -%}
        {%- set keys = computed_reprocess_keys(relation) -%}
        {%- if keys is none -%}
            {{ return(none) }}
        {%- endif -%}
        {{ return(reprocess_key_condition(node.config.unique_key, keys, reprocess_grain(node.config.meta or {}) == 'key')) }}
    {%- elif materialized == 'view' -%}
        {%- set column = spec.get('column') or (['event_date', 'session_date'] | select('in', node.columns) | first) -%}
        {%- set families = spec.get('families') or ([node.fqn[2]] if node.fqn | length > 3 else []) -%}
        {%- if not column or families | length == 0 -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set dates = reprocess_view_dates(relation, families) -%}
        {%- if dates is none -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set widened = [] -%}
        {%- for day in dates -%}
            {%- for offset in range(0, (spec.get('spill_before') or 0) | int + 1) -%}
                {%- do widened.append((modules.datetime.date.fromisoformat(day) - modules.datetime.timedelta(days=offset)).isoformat()) -%}
            {%- endfor -%}
        {%- endfor -%}
        {{ return(reprocess_key_condition(column, widened | unique | sort | list, false)) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#- `column in (<keys as date literals, or string literals>)`, or `1 = 0` for no keys. -#}
{% macro reprocess_key_condition(column, keys, as_strings) %}
    {%- if keys | length == 0 -%}
        {{ return('1 = 0') }}
    {%- elif as_strings -%}
        {{ return(column ~ ' in (' ~ sql_literals(keys) ~ ')') }}
    {%- else -%}
        {%- set literals = [] -%}
        {%- for key in keys -%}
            {%- do literals.append("cast('" ~ key ~ "' as date)") -%}
        {%- endfor -%}
        {{ return(column ~ ' in (' ~ literals | join(', ') ~ ')') }}
    {%- endif -%}
{% endmacro %}


{#- The graph node of the project model whose relation is named `identifier`, or none. -#}
{% macro reprocess_model_node(identifier) %}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.package_name == project_name
            and (node.alias or node.name) == identifier -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- The event dates (strings) of the ledger partitions of `families` that some incremental model reading those
    families has not processed yet: finished after the oldest watermark among them. Views are tested before the
    models downstream of them run, so these are the dates this build is about to redo. None (test everything)
    when one of those models does not exist yet. Computed once per invocation and family list. The ledger is a
    table rebuilt by each build: the family staging views declare a dependency on it, so it is fresh here. -#}
{% macro reprocess_view_dates(relation, families) %}
    {%- set cache = graph.setdefault('_reprocess_view_dates', {}) -%}
    {%- set cache_key = invocation_id ~ '|' ~ families | sort | join(',') -%}
    {%- if cache_key in cache -%}
        {{ return(cache[cache_key]) }}
    {%- endif -%}
    {%- set readers = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
        {%- set read = ((node.config.meta or {}).get('reprocess') or {}).get('families') or [] -%}
        {%- if read | select('in', families) | list | length > 0 -%}
            {%- do readers.append(node.alias or node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set result = {'dates': none} -%}
    {%- set existing = [] -%}
    {%- for name in readers -%}
        {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=name) -%}
        {%- if found is not none -%}
            {%- do existing.append(found) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if readers | length > 0 and existing | length == readers | length -%}
        {%- set ledger = api.Relation.create(database=relation.database, schema=relation.schema, identifier='stg_ops__ledger_partitions') -%}
        {%- set query -%}
            with watermarks as (
                {%- for found in existing %}
                select {{ ledger_watermark(found.identifier) | trim }} as watermark{{ "\n                union all" if not loop.last }}
                {%- endfor %}
            )
            select distinct cast(event_date as string)
            from {{ ledger }}
            where event_type in ({{ sql_literals(registry_event_types(families)) }})
                and finished_at > (select min(watermark) from watermarks)
        {%- endset -%}
        {%- do result.update({'dates': run_query(query).columns[0].values() | map('string') | list}) -%}
    {%- endif -%}
    {%- do cache.update({cache_key: result.dates}) -%}
    {{ return(result.dates) }}
{% endmacro %}
