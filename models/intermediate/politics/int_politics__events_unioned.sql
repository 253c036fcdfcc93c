{#- The type's value field (seed politics_event_types.value_field) and outcome, per politics event type. -#}
{%- set value_of = {
    'campaign_phase_change': 'cast(null as double)',
    'debate_result': 'persuasion_score',
    'endorsement': 'boost',
    'bill_vote': 'seat_weight',
    'policy_enacted': 'cast(null as double)',
    'lobby_attempt': 'spend',
    'momentum_shift': 'momentum_to - momentum_from',
    'poll_interval': 'margin',
    'system_balance_applied': 'underdog_buff',
} -%}

with

{% for event_type, value in value_of.items() -%}
{{ event_type }} as (
    select
        '{{ event_type }}' as event_type,
        event_id,
        player_key,
        company_id,
        occurred_at,
        event_date,
        cast({{ value }} as double) as value,
        {{ 'is_success' if event_type == 'lobby_attempt' else 'cast(null as boolean)' }} as is_success,
        batch_id
    from {{ ref('stg_politics__' ~ event_type) }}
),

{% endfor -%}
unioned as (
    {%- for event_type in value_of %}
    select * from {{ event_type }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        event_type,
        event_id,
        player_key,
        company_id,
        occurred_at,
        event_date,
        value,
        is_success,
        batch_id
    from unioned
)

select * from final
