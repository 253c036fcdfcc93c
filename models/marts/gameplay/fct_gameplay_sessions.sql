{{ config(materialized='incremental', unique_key='session_date', on_schema_change='append_new_columns') }}
-- depends_on: {{ ref('stg_gameplay__events') }}
{#- An incremental run sessionizes only the (player, session id) pairs with events on the dates it redoes, from
    every day those pairs have events on (int_gameplay__session_days): the same sessions as the view over the
    whole history, reading only their partitions. -#}
{%- set session_days = ref('int_gameplay__session_days') -%}
{%- if is_incremental() -%}
    {%- set touched -%}
        select distinct player_key as touched_player_key, session_id as touched_session_id
        from {{ session_days }}
        where {{ reprocess_filter('event_date') }}
    {%- endset -%}
    {%- set days = [] -%}
    {%- if execute -%}
        {%- set query -%}
            select distinct cast(session_days.event_date as string)
            from {{ session_days }} as session_days
            inner join ({{ touched }}) as touched
                on session_days.player_key = touched.touched_player_key
                and session_days.session_id = touched.touched_session_id
            order by 1
        {%- endset -%}
        {%- do days.extend(run_query(query).columns[0].values()) -%}
    {%- endif -%}
    {%- set events_where -%}
        {%- if days | length == 0 -%}
            1 = 0
        {%- else -%}
            event_date in ({% for day in days %}cast('{{ day }}' as date){{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- endset -%}
    {%- set clock = '(select max(newest_received_at) from ' ~ session_days ~ ')' -%}
{%- endif %}

with

sessions as (
    {%- if is_incremental() %}
    {{ gameplay_sessions(events_where=events_where, touched_sessions=touched, clock=clock) | indent(4) }}
    {%- else %}
    select * from {{ ref('int_gameplay__sessions') }}
    {%- endif %}
),

final as (
    select
        *
    from sessions
    where {{ reprocess_filter('session_date') }}
)

select * from final
