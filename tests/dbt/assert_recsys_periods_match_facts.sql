-- agg_recsys_weekly and agg_recsys_monthly (counts summed from daily rows) agree with the facts counted over
-- the whole period: the same requests (fct_recsys_requests) and impressions and clicks
-- (fct_recsys_impressions) per (period, experiment, bucket). Catches a period an incremental run missed.
{%- set periods = [('week', 'agg_recsys_weekly'), ('month', 'agg_recsys_monthly')] %}
with

requests as (
    select
        event_date,
        experiment_id,
        bucket
    from {{ ref('fct_recsys_requests') }}
),

impressions as (
    select
        event_date,
        experiment_id,
        bucket,
        is_clicked
    from {{ ref('fct_recsys_impressions') }}
),
{% for period, model in periods %}
{{ period }}_requests as (
    select
        {{ period_start(period, 'event_date') }} as period_start,
        experiment_id,
        bucket,
        count(*) as requests
    from requests
    group by 1, 2, 3
),

{{ period }}_impressions as (
    select
        {{ period_start(period, 'event_date') }} as period_start,
        experiment_id,
        bucket,
        count(*) as impressions,
        sum(case when is_clicked then 1 else 0 end) as clicks
    from impressions
    group by 1, 2, 3
),

{{ period }}_mismatches as (
    select
        '{{ model }}' as model,
        rollup.{{ period }}_start as period_start,
        rollup.experiment_id,
        rollup.bucket,
        rollup.requests,
        coalesce(period_requests.requests, 0) as fact_requests,
        rollup.impressions,
        coalesce(period_impressions.impressions, 0) as fact_impressions,
        rollup.clicks,
        coalesce(period_impressions.clicks, 0) as fact_clicks
    from {{ ref(model) }} as rollup
    left join {{ period }}_requests as period_requests
        on rollup.{{ period }}_start = period_requests.period_start
        and rollup.experiment_id = period_requests.experiment_id
        and rollup.bucket = period_requests.bucket
    left join {{ period }}_impressions as period_impressions
        on rollup.{{ period }}_start = period_impressions.period_start
        and rollup.experiment_id = period_impressions.experiment_id
        and rollup.bucket = period_impressions.bucket
    where rollup.requests != coalesce(period_requests.requests, 0)
        or rollup.impressions != coalesce(period_impressions.impressions, 0)
        or rollup.clicks != coalesce(period_impressions.clicks, 0)
),

{{ period }}_missing as (
    -- a period with requests in the fact but no rollup row
    select
        '{{ model }}' as model,
        period_requests.period_start,
        period_requests.experiment_id,
        period_requests.bucket,
        cast(null as bigint) as requests,
        period_requests.requests as fact_requests,
        cast(null as bigint) as impressions,
        cast(null as bigint) as fact_impressions,
        cast(null as bigint) as clicks,
        cast(null as bigint) as fact_clicks
    from {{ period }}_requests as period_requests
    left join {{ ref(model) }} as rollup
        on rollup.{{ period }}_start = period_requests.period_start
        and rollup.experiment_id = period_requests.experiment_id
        and rollup.bucket = period_requests.bucket
    where rollup.{{ period }}_start is null
),
{% endfor %}
final as (
    select * from week_mismatches
    union all
    select * from week_missing
    union all
    select * from month_mismatches
    union all
    select * from month_missing
)

select * from final
