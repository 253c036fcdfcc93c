{#- Every recsys event (one branch per registry type of the family) with the keys that chain it to its request:
    the input of the reprocess chain (meta.reprocess.chain) and the full-refresh guard. -#}
with

unioned as (
    {%- for event_type in registry_event_categories('recsys') %}
    select
        'recsys_{{ event_type }}' as event_type,
        event_id,
        request_id,
        event_date,
        batch_id
    from {{ ref('stg_recsys__' ~ event_type) }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        event_type,
        event_id,
        request_id,
        event_date,
        batch_id
    from unioned
)

select * from final
