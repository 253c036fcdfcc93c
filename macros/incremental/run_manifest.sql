{#- The run manifest (docs/warehouse.md "Incremental models"): the table `incremental_manifest`, one row per
    incremental model and run, saying what the run processed and when:
      model           the model's table name;
      invocation_id   dbt's id of the run;
      run_started_at  when the dbt invocation started (UTC);
      watermark       the newest ledger `finished_at` the model has processed (ledger_stamp);
      reprocess_keys  the keys the run recomputed, a JSON list of strings; null for a full build (every key);
      full_build      true for a first build or a --full-refresh.
    Created by on-run-start (dbt_project.yml); every incremental model's post-hook notes its run, and on-run-end
    writes the notes. -#}
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


{#- Post-hook of every incremental model (dbt_project.yml): notes this run for the manifest — its watermark
    (ledger_stamp) and the keys reprocess_keys() computed for its body in this invocation (none: a
    full build). The rows are written together at the end of the invocation (write_incremental_manifest,
    on-run-end): dbt runs models on several threads, and concurrent inserts into one Parquet table collide on
    Spark. Until then, models later in the same invocation read these notes (ledger_watermark, changed_in). A
    run whose row is lost (dbt killed before the end) only makes the next run redo its keys. Renders nothing. -#}
{% macro record_incremental_run() %}
    {%- if follows_engine() -%}
        {%- do _invocation_runs().update({this.identifier: {'watermark': ledger_stamp(), 'keys': computed_reprocess_keys(this)}}) -%}
    {%- endif -%}
{% endmacro %}


{#- This invocation's notes of incremental runs: model name → {watermark (string or none), keys (list or none)}. -#}
{% macro _invocation_runs() %}
    {{ return(graph.setdefault('_incremental_runs', {}).setdefault(invocation_id, {})) }}
{% endmacro %}


{#- on-run-end (dbt_project.yml): writes this invocation's rows into the manifest, in one statement. -#}
{% macro write_incremental_manifest() %}
    {%- set runs = _invocation_runs() if execute else {} -%}
    {%- if runs | length > 0 -%}
        insert into {{ incremental_manifest() }} values
        {%- for model, run in runs | dictsort %}
            ('{{ model }}', '{{ invocation_id }}',
             cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp),
             {% if run.watermark is none %}cast(null as timestamp){% else %}cast('{{ run.watermark }}' as timestamp){% endif %},
             {% if run['keys'] is none %}cast(null as string){% else %}'{{ tojson(run['keys']) | replace("'", "''") }}'{% endif %},
             {{ 'true' if run['keys'] is none else 'false' }}){{ "," if not loop.last }}
        {%- endfor %}
    {%- endif -%}
{% endmacro %}


{#- The watermark of incremental model `name` (default: this model): its watermark from this invocation when it
    ran in it, else its newest run's in the manifest, 1970-01-01 when it has none. A SQL expression. -#}
{% macro ledger_watermark(name=none) %}
    {%- set name = name or this.identifier -%}
    {%- set runs = _invocation_runs() -%}
    {%- if name in runs -%}
        cast('{{ runs[name].watermark or '1970-01-01 00:00:00' }}' as timestamp)
    {%- else -%}
    (select coalesce(max_by(watermark, run_started_at), cast('1970-01-01 00:00:00' as timestamp))
     from {{ incremental_manifest() }}
     where model = '{{ name }}')
    {%- endif -%}
{%- endmacro %}


{#- The watermark this run records, as a string (none when there is no ledger yet): the newest ledger
    `finished_at` (queried once per invocation: the ledger table does not change during a build), capped by the
    watermark of every incremental model upstream of this one (incremental_upstreams: this invocation's note of
    it, else the manifest). The cap makes a model built without its upstream facts keep an old watermark, so it
    redoes the same dates once they have caught up. Strings compare as timestamps (one ISO format). -#}
{% macro ledger_stamp() %}
    {%- set newest = graph.setdefault('_ledger_newest_finished_at', {}) -%}
    {%- if invocation_id not in newest -%}
        {%- set query = 'select cast(max(finished_at) as string) from ' ~ ref('stg_ops__ledger') -%}
        {%- do newest.update({invocation_id: run_query(query).columns[0].values()[0]}) -%}
    {%- endif -%}
    {%- set values = [newest[invocation_id]] -%}
    {%- set runs = _invocation_runs() -%}
    {%- set elsewhere = [] -%}
    {%- for upstream in incremental_upstreams() -%}
        {%- if upstream in runs -%}
            {%- do values.append(runs[upstream].watermark or '1970-01-01 00:00:00') -%}
        {%- else -%}
            {%- do elsewhere.append('select cast(' ~ ledger_watermark(upstream) ~ ' as string)') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if elsewhere | length > 0 -%}
        {%- do values.extend(run_query(elsewhere | join(' union all ')).columns[0].values()) -%}
    {%- endif -%}
    {%- set present = values | reject('none') | list -%}
    {{ return(present | min if present | length > 0 else none) }}
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
            {%- if follows_engine(node) -%}
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
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and follows_engine(node) -%}
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
