-- The position rows of agg_recsys_positions_daily for a (day, experiment, bucket) add up to that day's row of
-- agg_recsys_daily for the additive impression measures, impressions and clicks; a day with impressions has
-- position rows and a day of position rows has its daily row.
with

daily as (
    select
        event_date,
        experiment_id,
        bucket,
        impressions,
        clicks
    from {{ ref('agg_recsys_daily') }}
),

positions as (
    select
        event_date,
        experiment_id,
        bucket,
        impressions,
        clicks
    from {{ ref('agg_recsys_positions_daily') }}
),

by_position as (
    select
        event_date,
        experiment_id,
        bucket,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from positions
    group by event_date, experiment_id, bucket
),

final as (
    select
        coalesce(daily.event_date, by_position.event_date) as event_date,
        coalesce(daily.experiment_id, by_position.experiment_id) as experiment_id,
        coalesce(daily.bucket, by_position.bucket) as bucket,
        daily.impressions,
        by_position.impressions as impressions_by_position,
        daily.clicks,
        by_position.clicks as clicks_by_position
    from daily
    full outer join by_position
        on daily.event_date = by_position.event_date
        and daily.experiment_id = by_position.experiment_id
        and daily.bucket = by_position.bucket
    where daily.event_date is null
        or coalesce(by_position.impressions, 0) != daily.impressions
        or coalesce(by_position.clicks, 0) != daily.clicks
)

select * from final
