{#- The keys an incremental model recomputes in this run (docs/warehouse.md "Incremental models"), as a sorted
    list of strings: dates ('YYYY-MM-DD') or period starts for a date key, ids for a session key. The model's
    `meta.reprocess` (set per folder in dbt_project.yml, refined per model) says how:
      families      the families whose lake partitions the model reads (registry_event_types);
      spill_before  also redo the n days before each touched date (a session that started the day before);
      spill_after   also redo the n days after (a rule whose window crosses midnight);
      chain         {model, column}: also redo every date holding an event that shares `column` with an event
                    the new batches landed (a late click re-dates its whole request chain);
      keys_from     {model, column}: a non-date key; the `column` values of the events the new batches landed;
      open_where    with keys_from, also the keys of this table's rows matching this condition (open sessions);
      changed_in    a non-date key: the keys an upstream incremental model recomputed since this model last ran
                    (the run manifest, macros/incremental/run_manifest.sql).
    The unique_key names the key column and reprocess_grain() its grain: weekly and monthly models map dates to
    their period start.
    Steps: (1) the ledger partitions of those families finished after this model's watermark (ledger_watermark);
    (2) their dates, plus chain, spill and `lookback_days` dates (the last N days before the newest date in the
    ledger); (3) every date beyond step 1 is kept only when the lake still holds all the partitions the ledger
    recorded for it (lake_partitions), so a lookback or a spill longer than raw retention never deletes rows it
    cannot rebuild. The queries run once per model and run (cached by invocation and model); every caller
    (reprocess_filter in the body, delete_reprocessed in the pre-hook) gets the same literals. Returns none
    outside an incremental run. -#}
{% macro reprocess_keys() %}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set cache = graph.setdefault('_reprocess_keys', {}) -%}
    {%- set cache_key = _reprocess_cache_key(this) -%}
    {%- if cache_key not in cache -%}
        {%- do cache.update({cache_key: _compute_reprocess_keys()}) -%}
    {%- endif -%}
    {{ return(cache[cache_key]) }}
{% endmacro %}


{#- The keys reprocess_keys() computed for `relation` in this invocation (a list), or none when it computed
    none (no incremental run of it so far: not built yet, or a full build). -#}
{% macro computed_reprocess_keys(relation) %}
    {{ return(graph.get('_reprocess_keys', {}).get(_reprocess_cache_key(relation))) }}
{% endmacro %}

{% macro _reprocess_cache_key(relation) %}
    {{ return(invocation_id ~ '|' ~ relation.schema ~ '.' ~ relation.identifier) }}
{% endmacro %}


{#- Whether the engine runs on this model (its hooks, keys and manifest row): an incremental model whose meta
    declares `reprocess` (every family's, through its folder in dbt_project.yml). An incremental model without it
    (the ledger table, which appends new ledger files) is plain dbt. -#}
{% macro follows_engine(node=none) %}
    {%- set conf = node.config if node is not none else config -%}
    {{ return(execute and conf.get('materialized') == 'incremental' and (conf.get('meta') or {}).get('reprocess') is not none) }}
{% endmacro %}


{#- The model's reprocess spec (meta.reprocess) with defaults. -#}
{% macro reprocess_spec() %}
    {%- set meta = config.get('meta') or {} -%}
    {%- set spec = meta.get('reprocess') or {} -%}
    {{ return({
        'families': spec.get('families') or [],
        'spill_before': spec.get('spill_before', 0) | int,
        'spill_after': spec.get('spill_after', 0) | int,
        'chain': spec.get('chain'),
        'keys_from': spec.get('keys_from'),
        'open_where': spec.get('open_where'),
        'changed_in': spec.get('changed_in'),
    }) }}
{% endmacro %}


{#- The grain of an incremental model's keys, as its config declares it (`meta`: the model's meta, default this
    model's): 'key' (ids, e.g. session_id) when meta.reprocess names keys_from or changed_in; else the period of
    meta.grain — 'week' for weekly, 'month' for monthly, 'day' otherwise. -#}
{% macro reprocess_grain(meta=none) %}
    {%- set meta = meta if meta is not none else (config.get('meta') or {}) -%}
    {%- set spec = meta.get('reprocess') or {} -%}
    {%- if spec.get('keys_from') is not none or spec.get('changed_in') is not none -%}
        {{ return('key') }}
    {%- endif -%}
    {{ return({'weekly': 'week', 'monthly': 'month'}.get(meta.get('grain'), 'day')) }}
{% endmacro %}


{#- A list of SQL string literals, `'a', 'b'` (quotes doubled). -#}
{% macro sql_literals(values) %}
    {%- for value in values -%}
        '{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{% endmacro %}


{% macro _compute_reprocess_keys() %}
    {%- set spec = reprocess_spec() -%}
    {%- set column = config.get('unique_key') -%}
    {%- set types = registry_event_types(spec.families) -%}
    {%- set keys = [] -%}

    {#- (1) what the ledger says landed since this model's watermark -#}
    {%- set new_partitions = [] -%}
    {%- if types | length > 0 -%}
        {%- set query -%}
            select distinct batch_id, event_type, cast(event_date as string) as event_date
            from {{ ref('stg_ops__ledger_partitions') }}
            where finished_at > {{ ledger_watermark() }}
                and event_type in ({{ sql_literals(types) }})
        {%- endset -%}
        {%- set new_partitions = run_query(query).rows | map('list') | list -%}
    {%- endif -%}
    {%- set new_dates = new_partitions | map(attribute=2) | unique | sort | list -%}
    {%- set new_batches = new_partitions | map(attribute=0) | unique | sort | list -%}

    {%- if spec.changed_in is not none -%}
        {#- a non-date key: the keys an upstream model recomputed since this model last ran (run manifest, and this
            invocation's run of it); every key of the upstream after a full build of it -#}
        {%- set query -%}
            select reprocess_keys, full_build
            from {{ incremental_manifest() }}
            where model = '{{ spec.changed_in }}'
                and run_started_at > (
                    select coalesce(max(run_started_at), cast('1970-01-01 00:00:00' as timestamp))
                    from {{ incremental_manifest() }}
                    where model = '{{ this.identifier }}'
                )
        {%- endset -%}
        {%- set runs = run_query(query).rows | map('list') | list -%}
        {%- set current = _invocation_runs().get(spec.changed_in) -%}
        {%- if current is not none -%}
            {%- do runs.append([none if current['keys'] is none else tojson(current['keys']), current['keys'] is none]) -%}
        {%- endif -%}
        {%- if runs | map(attribute=1) | select | list | length > 0 -%}
            {%- set query -%}
                select distinct cast({{ column }} as string) from {{ reprocess_relation(spec.changed_in) }}
            {%- endset -%}
            {%- do keys.extend(run_query(query).columns[0].values()) -%}
        {%- else -%}
            {%- for run in runs -%}
                {%- do keys.extend(fromjson(run[0])) -%}
            {%- endfor -%}
        {%- endif -%}

    {%- elif spec.keys_from is not none -%}
        {#- a non-date key: the keys of the events the new batches landed (+ this table's open ones) -#}
        {%- if new_partitions | length > 0 -%}
            {%- set query -%}
                select distinct cast({{ spec.keys_from.column }} as string)
                from {{ reprocess_relation(spec.keys_from.model) }}
                where event_date in ({% for day in new_dates %}cast('{{ day }}' as date){{ ", " if not loop.last }}{% endfor %})
                    and batch_id in ({{ sql_literals(new_batches) }})
                    and {{ spec.keys_from.column }} is not null
            {%- endset -%}
            {%- do keys.extend(run_query(query).columns[0].values()) -%}
        {%- endif -%}
        {%- if spec.open_where is not none -%}
            {%- set query -%}
                select distinct cast({{ column }} as string) from {{ this }} where {{ spec.open_where }}
            {%- endset -%}
            {%- do keys.extend(run_query(query).columns[0].values()) -%}
        {%- endif -%}

    {%- else -%}
        {#- (2) a date key: touched dates, then the dates they imply -#}
        {%- set derived = [] -%}
        {%- set lookback_days = var('lookback_days', 0) | int -%}
        {%- if spec.chain is not none and new_partitions | length > 0 -%}
            {%- set query -%}
                select distinct cast(chained.event_date as string)
                from {{ reprocess_relation(spec.chain.model) }} as chained
                where chained.{{ spec.chain.column }} in (
                    select touched.{{ spec.chain.column }}
                    from {{ reprocess_relation(spec.chain.model) }} as touched
                    where touched.event_date in ({% for day in new_dates %}cast('{{ day }}' as date){{ ", " if not loop.last }}{% endfor %})
                        and touched.batch_id in ({{ sql_literals(new_batches) }})
                        and touched.{{ spec.chain.column }} is not null
                )
            {%- endset -%}
            {%- do derived.extend(run_query(query).columns[0].values()) -%}
        {%- endif -%}
        {%- for day in new_dates -%}
            {%- set start = modules.datetime.date.fromisoformat(day) -%}
            {%- for offset in range(1, spec.spill_before + 1) -%}
                {%- do derived.append((start - modules.datetime.timedelta(days=offset)).isoformat()) -%}
            {%- endfor -%}
            {%- for offset in range(1, spec.spill_after + 1) -%}
                {%- do derived.append((start + modules.datetime.timedelta(days=offset)).isoformat()) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if lookback_days > 0 and types | length > 0 -%}
            {%- set query -%}
                select cast(max(event_date) as string)
                from {{ ref('stg_ops__ledger_partitions') }}
                where event_type in ({{ sql_literals(types) }})
            {%- endset -%}
            {%- set newest = run_query(query).columns[0].values()[0] -%}
            {%- if newest is not none -%}
                {%- set newest_date = modules.datetime.date.fromisoformat(newest) -%}
                {%- for offset in range(0, lookback_days + 1) -%}
                    {%- do derived.append((newest_date - modules.datetime.timedelta(days=offset)).isoformat()) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endif -%}

        {#- (3) a derived date is redone only if the lake still holds everything the ledger recorded for it -#}
        {%- set derived = derived | reject('in', new_dates) | unique | sort | list -%}
        {%- set rebuildable = [] -%}
        {%- if derived | length > 0 -%}
            {%- do rebuildable.extend(rebuildable_dates(types, derived)) -%}
        {%- endif -%}
        {%- set period = reprocess_grain() -%}
        {%- for day in new_dates + rebuildable -%}
            {%- set date = modules.datetime.date.fromisoformat(day) -%}
            {%- if period == 'week' -%}
                {%- do keys.append((date - modules.datetime.timedelta(days=date.weekday())).isoformat()) -%}
            {%- elif period == 'month' -%}
                {%- do keys.append(date.replace(day=1).isoformat()) -%}
            {%- else -%}
                {%- do keys.append(day) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- set keys = keys | reject('none') | map('string') | unique | sort | list -%}
    {%- set shown = keys | join(", ") if keys | length <= 8 else keys[0] ~ " … " ~ keys[-1] -%}
    {{ log(this.identifier ~ ": recomputing " ~ keys | length ~ " " ~ column ~ " key(s)"
           ~ (": " ~ shown if keys else ""), info=true) }}
    {{ return(keys) }}
{% endmacro %}


{#- The dates of `dates` (strings) whose every partition of `event_types` that the ledger recorded with rows is
    still in the lake: the dates a rebuild reproduces instead of erasing. -#}
{% macro rebuildable_dates(event_types, dates) %}
    {%- set query -%}
        with

        recorded as (
            select distinct event_type, event_date
            from {{ ref('stg_ops__ledger_partitions') }}
            where landed > 0
                and event_type in ({{ sql_literals(event_types) }})
                and event_date in ({% for day in dates %}cast('{{ day }}' as date){{ ", " if not loop.last }}{% endfor %})
        ),

        in_lake as (
            {{ lake_partitions(dates) }}
        ),

        missing as (
            select recorded.event_date
            from recorded
            left join in_lake
                on recorded.event_type = in_lake.event_type
                and recorded.event_date = in_lake.event_date
            where in_lake.event_date is null
        )

        select distinct cast(recorded.event_date as string)
        from recorded
        where recorded.event_date not in (select event_date from missing)
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{% endmacro %}


{#- The relation of model `name` in this model's schema. The reprocess spec names models in folder-level meta,
    which a parse-time ref() cannot see; they are upstream views or facts that exist once a first build ran. -#}
{% macro reprocess_relation(name) %}
    {{ return(api.Relation.create(database=this.database, schema=this.schema, identifier=name)) }}
{% endmacro %}
