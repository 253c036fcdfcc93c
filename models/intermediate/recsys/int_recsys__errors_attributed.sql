with

errors as (
    select
        event_id,
        request_id,
        experiment_id,
        bucket,
        component,
        severity,
        error_code,
        occurred_at,
        event_date
    from {{ ref('stg_recsys__error') }}
),

requests as (
    select
        request_id,
        event_date,
        experiment_id,
        bucket
    from {{ ref('int_recsys__requests_joined') }}
),

final as (
    select
        errors.event_id,
        errors.request_id,
        -- attributed to the request when it names a landed one, else the error's own date/experiment/bucket
        coalesce(requests.event_date, errors.event_date) as event_date,
        errors.event_date as error_date,
        coalesce(requests.experiment_id, errors.experiment_id, '(unattributed)') as experiment_id,
        coalesce(requests.bucket, errors.bucket, '(unattributed)') as bucket,
        requests.request_id is not null as has_request,
        errors.component,
        errors.severity,
        errors.error_code,
        errors.occurred_at
    from errors
    left join requests
        on errors.request_id = requests.request_id
)

select * from final
