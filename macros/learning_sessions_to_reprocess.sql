{#- A `select session_id` of the learning sessions an incremental learning model recomputes: the sessions of
    the events in ledger batches finished after the model's watermark, plus the sessions the model still holds
    as open (`open_sessions_sql`, a select of session_id, e.g. the rows of this with is_closed = false): a
    session closes when time passes, without new events of its own. Only valid inside is_incremental(). -#}
{% macro learning_sessions_to_reprocess(open_sessions_sql=none) %}
    select distinct touched.session_id
    from (
        select events.session_id
        from {{ ref('stg_learning__events') }} as events
        inner join {{ ref('stg_ops__ledger') }} as ledger
            on events.batch_id = ledger.batch_id
        where ledger.finished_at > {{ ledger_watermark() }}
            and events.session_id is not null
        {%- if open_sessions_sql is not none %}

        union all

        select open_sessions.session_id
        from (
            {{ open_sessions_sql }}
        ) as open_sessions
        {%- endif %}
    ) as touched
{% endmacro %}
