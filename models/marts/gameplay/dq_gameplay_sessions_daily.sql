{#- Data quality (docs/requirements/gameplay.md#data-quality): per UTC day, analytics sessions (fct_gameplay_sessions by
    start date) against authenticated sessions from the operational source (seed
    gameplay_authenticated_sessions: one row per day and source). variance_rate = |analytics − authenticated|
    ÷ authenticated; a day above 3% is flagged (is_flagged), and the warn-level singular test
    gameplay_sessions_match_authenticated_within_3_percent reports it. A day the lake holds gameplay events for
    but no session of is a 100% variance (flagged); a day without an operational count, or for which no gameplay
    batch was ingested at all (source freshness and dq_ingest_daily report that), is listed with its status but
    not flagged. -#}
{%- set threshold = 0.03 -%}

with

analytics as (
    select
        session_date,
        count(*) as analytics_sessions
    from {{ ref('fct_gameplay_sessions') }}
    group by session_date
),

operational as (
    select
        cast(session_date as date) as session_date,
        sum(authenticated_sessions) as authenticated_sessions
    from {{ ref('gameplay_authenticated_sessions') }}
    group by cast(session_date as date)
),

-- days the lake received gameplay events for: a day with none was not ingested at all, which source freshness
-- and dq_ingest_daily report; the variance check compares the days that were
ingested as (
    select distinct event_date as session_date
    from {{ ref('stg_ops__ledger_partitions') }}
    where {{ dbt.split_part('event_type', "'_'", 1) }} = 'gameplay'
        and landed > 0
),

days as (
    select session_date from analytics
    union
    select session_date from operational
),

compared as (
    select
        days.session_date,
        analytics.analytics_sessions,
        operational.authenticated_sessions,
        analytics.analytics_sessions is not null or ingested.session_date is not null as is_ingested
    from days
    left join analytics
        on days.session_date = analytics.session_date
    left join operational
        on days.session_date = operational.session_date
    left join ingested
        on days.session_date = ingested.session_date
),

final as (
    select
        cast(session_date as date) as session_date,
        cast(analytics_sessions as bigint) as analytics_sessions,
        cast(authenticated_sessions as bigint) as authenticated_sessions,
        cast(coalesce(analytics_sessions, 0) - coalesce(authenticated_sessions, 0) as bigint) as session_difference,
        case
            when authenticated_sessions > 0 and is_ingested
                then
                    abs(coalesce(analytics_sessions, 0) - authenticated_sessions)
                    / cast(authenticated_sessions as double)
        end as variance_rate,
        cast({{ threshold }} as double) as variance_threshold,
        coalesce(
            is_ingested
            and authenticated_sessions > 0
            and abs(coalesce(analytics_sessions, 0) - authenticated_sessions)
                / cast(authenticated_sessions as double) > {{ threshold }},
            false
        ) as is_flagged,
        case
            when coalesce(authenticated_sessions, 0) = 0 then 'no_operational_count'
            when not is_ingested then 'not_ingested'
            when abs(coalesce(analytics_sessions, 0) - authenticated_sessions)
                / cast(authenticated_sessions as double) > {{ threshold }} then 'variance_over_threshold'
            else 'ok'
        end as status
    from compared
)

select * from final
