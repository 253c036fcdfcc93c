-- In agg_recsys_daily, the position rows (p >= 1) of a (day, experiment, bucket) add up to its all-positions
-- row (position 0) for the additive impression measures: impressions and clicks.
with

daily as (
    select
        event_date,
        experiment_id,
        bucket,
        position,
        impressions,
        clicks
    from {{ ref('agg_recsys_daily') }}
),

by_position as (
    select
        event_date,
        experiment_id,
        bucket,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from daily
    where position > 0
    group by event_date, experiment_id, bucket
),

final as (
    select
        all_positions.event_date,
        all_positions.experiment_id,
        all_positions.bucket,
        all_positions.impressions,
        coalesce(by_position.impressions, 0) as impressions_by_position,
        all_positions.clicks,
        coalesce(by_position.clicks, 0) as clicks_by_position
    from daily as all_positions
    left join by_position
        on all_positions.event_date = by_position.event_date
        and all_positions.experiment_id = by_position.experiment_id
        and all_positions.bucket = by_position.bucket
    where all_positions.position = 0
        and (
            all_positions.impressions != coalesce(by_position.impressions, 0)
            or all_positions.clicks != coalesce(by_position.clicks, 0)
        )
)

select * from final
