{#- One branch per registry type of the family. The value of a type (seed politics_event_types.value_field) where
    it has one; a type without an entry has no value. -#}
{%- set value_of = {
    'debate_result': 'persuasion_score',
    'endorsement': 'boost',
    'bill_vote': 'seat_weight',
    'lobby_attempt': 'spend',
    'momentum_shift': 'momentum_to - momentum_from',
    'poll_interval': 'margin',
    'system_balance_applied': 'underdog_buff',
} -%}

with

{% for event_type in registry_event_categories('politics') -%}
{%- set value = value_of.get(event_type, 'cast(null as double)') %}
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
    {%- if event_type == 'momentum_shift' %}
    from {{ ref('int_politics__momentum_shifts') }}
    -- docs/requirements/politics.md#anti-abuse: a shift without a backing poll change does not count (it stays in fct_politics_abuse_flags)
    where is_backed_by_poll_change is not false
    {%- else %}
    from {{ ref('stg_politics__' ~ event_type) }}
    {%- endif %}
),

{% endfor -%}
unioned as (
    {%- for event_type in registry_event_categories('politics') %}
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
