{#- The run manifest (docs/warehouse.md "Incremental models"): the table `incremental_manifest`, one row per
    incremental model and run, saying what the run processed and when:
      model           the model's table name;
      invocation_id   dbt's id of the run;
      run_started_at  when the dbt invocation started (UTC);
      watermark       the newest ledger `finished_at` the model has processed (ledger_stamp);
      reprocess_keys  the keys the run recomputed, a JSON list of strings; null for a full build (every key);
      full_build      true for a first build or a --full-refresh.
    Created by on-run-start (dbt_project.yml) and written by the post-hook of every incremental model. -#}
{% macro create_incremental_manifest() %}
    create table if not exists {{ target.schema }}.incremental_manifest (
        model string,
        invocation_id string,
        run_started_at timestamp,
        watermark timestamp,
        reprocess_keys string,
        full_build boolean
    ){{ adapter.dispatch('incremental_manifest_storage', 'telemetry')() }}
{% endmacro %}

{% macro default__incremental_manifest_storage() %}{% endmacro %}

{% macro spark__incremental_manifest_storage() %} using parquet{% endmacro %}


{#- The manifest as a relation, in the target's schema (what on-run-start creates). -#}
{% macro incremental_manifest() %}
    {{ return(api.Relation.create(schema=target.schema, identifier='incremental_manifest')) }}
{% endmacro %}


{#- Post-hook of every incremental model (dbt_project.yml): records this run in the manifest. The keys are the
    ones reprocess_keys() computed for the model's body in this invocation; a run that computed none is a full
    build. Renders nothing for views and tables. -#}
{% macro record_incremental_run() %}
    {%- if execute and config.get('materialized') == 'incremental' -%}
        {%- set cached = graph.get('_reprocess_keys', {}) -%}
        {%- set cache_key = invocation_id ~ '|' ~ this.schema ~ '.' ~ this.identifier -%}
        {%- set keys = cached.get(cache_key) -%}
        insert into {{ incremental_manifest() }}
        select
            '{{ this.identifier }}',
            '{{ invocation_id }}',
            cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp),
            {{ ledger_stamp() }},
            {% if keys is none %}cast(null as string){% else %}'{{ tojson(keys) | replace("'", "''") }}'{% endif %},
            {{ 'true' if keys is none else 'false' }}
    {%- endif -%}
{% endmacro %}


{#- The watermark of incremental model `name` (default: this model): its newest run's watermark in the manifest,
    1970-01-01 when it has none. A SQL scalar subquery. -#}
{% macro ledger_watermark(name=none) %}
    (select coalesce(max_by(watermark, run_started_at), cast('1970-01-01 00:00:00' as timestamp))
     from {{ incremental_manifest() }}
     where model = '{{ name or this.identifier }}')
{%- endmacro %}


{#- The watermark this run records: the newest ledger `finished_at`, capped (`least`) by the watermark of every
    incremental model upstream of this one (incremental_upstreams). The cap makes a model built without its
    upstream facts keep an old watermark, so it redoes the same dates once they have caught up. -#}
{% macro ledger_stamp() %}
    {%- set upstreams = incremental_upstreams() -%}
    {%- if upstreams | length == 0 -%}
        (select max(finished_at) from {{ ref('stg_ops__ledger') }})
    {%- else -%}
        least(
            (select max(finished_at) from {{ ref('stg_ops__ledger') }}),
            {%- for upstream in upstreams %}
            {{ ledger_watermark(upstream) }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{% endmacro %}


{#- The incremental models this model reads, directly or through views and tables (model.depends_on, walked in
    the graph): names, sorted. -#}
{% macro incremental_upstreams() %}
    {%- set found = [] -%}
    {%- do _collect_incremental_upstreams(model.depends_on.nodes, found, []) -%}
    {{ return(found | unique | sort | list) }}
{% endmacro %}

{% macro _collect_incremental_upstreams(node_ids, found, seen) %}
    {%- for node_id in node_ids if node_id not in seen and node_id in graph.nodes -%}
        {%- do seen.append(node_id) -%}
        {%- set node = graph.nodes[node_id] -%}
        {%- if node.resource_type == 'model' -%}
            {%- if node.config.materialized == 'incremental' -%}
                {%- do found.append(node.alias or node.name) -%}
            {%- else -%}
                {%- do _collect_incremental_upstreams(node.depends_on.nodes, found, seen) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{#- One-off upgrade of a DuckDB warehouse whose incremental tables still carry `_ledger_finished_at_max` (the
    per-row watermark the run manifest replaced): records each table's maximum as its watermark, then drops the
    column. `dbt run-operation adopt_run_manifest` once, before the first build of this version. -#}
{% macro adopt_run_manifest() %}
    {%- do run_query(create_incremental_manifest()) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'incremental' -%}
        {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias or node.name) -%}
        {%- if relation is not none and '_ledger_finished_at_max' in adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
            {%- do run_query(
                "insert into " ~ incremental_manifest() ~ " select '" ~ relation.identifier ~ "', '" ~ invocation_id
                ~ "', cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as timestamp),"
                ~ " max(_ledger_finished_at_max), '[]', false from " ~ relation
            ) -%}
            {%- do run_query('alter table ' ~ relation ~ ' drop column _ledger_finished_at_max') -%}
            {{ log(relation.identifier ~ ": watermark moved to the run manifest", info=true) }}
        {%- endif -%}
    {%- endfor -%}
    {%- do adapter.commit() -%}
{% endmacro %}
