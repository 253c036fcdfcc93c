{#- The qualified lake event types of the politics family (seed 000 §2), as a list of strings. A pytest test
    keeps it equal to the registry (schemas/politics/). -#}
{% macro politics_event_types() %}
    {{ return([
        'politics_campaign_phase_change',
        'politics_debate_result',
        'politics_endorsement',
        'politics_bill_vote',
        'politics_policy_enacted',
        'politics_lobby_attempt',
        'politics_momentum_shift',
        'politics_poll_interval',
        'politics_system_balance_applied',
    ]) }}
{% endmacro %}
