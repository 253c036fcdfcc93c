{#- The ability KPIs of docs/requirements/ability.md#kpis (and the two ratios the §9 alerts need), as select expressions over the
    reweighted metric totals of one row, qualified by `alias` (e.g. 'totals'). Every ratio goes through
    safe_divide: a zero or missing denominator gives null, never an error or infinity. Shared by the daily and
    weekly ability rollups so the formulas exist once.
      dmg_per_cast              = damage_total / casts
      effective_heal_ratio      = healing_total / (healing_total + overheal_total)   (overheal absent = 0)
      avg_cc_duration           = Σ appliedDuration / cc_applied_count              (cc_applied_duration_seconds)
      resource_cycle_efficiency = resource_spent / resource_generated
      execution_rate            = execution_count / casts
      uptime_ratio              = uptime_seconds / wallClockWindow                  (window_seconds)
      avg_silence_duration      = silence_duration_seconds / silence_applied_count  (§9 silence stacking)
      cc_full_duration_ratio    = cc_full_duration_count / cc_applied_count         (§9 DR / immunities) -#}
{% macro ability_kpis(alias) %}
        {{ safe_divide(alias ~ '.damage_total', alias ~ '.casts') }} as dmg_per_cast,
        {{ safe_divide(alias ~ '.healing_total', alias ~ '.healing_total + coalesce(' ~ alias ~ '.overheal_total, 0)') }}
            as effective_heal_ratio,
        {{ safe_divide(alias ~ '.cc_applied_duration_seconds', alias ~ '.cc_applied_count') }} as avg_cc_duration,
        {{ safe_divide(alias ~ '.resource_spent', alias ~ '.resource_generated') }} as resource_cycle_efficiency,
        {{ safe_divide(alias ~ '.execution_count', alias ~ '.casts') }} as execution_rate,
        {{ safe_divide(alias ~ '.uptime_seconds', alias ~ '.window_seconds') }} as uptime_ratio,
        {{ safe_divide(alias ~ '.silence_duration_seconds', alias ~ '.silence_applied_count') }} as avg_silence_duration,
        {{ safe_divide(alias ~ '.cc_full_duration_count', alias ~ '.cc_applied_count') }} as cc_full_duration_ratio
{%- endmacro %}

{#- The metric keys the KPIs read, in column order of the ability rollups. -#}
{% macro ability_kpi_input_metrics() %}
    {{ return([
        'casts',
        'damage_total',
        'healing_total',
        'overheal_total',
        'cc_applied_count',
        'cc_full_duration_count',
        'cc_applied_duration_seconds',
        'silence_applied_count',
        'silence_duration_seconds',
        'resource_generated',
        'resource_spent',
        'execution_count',
        'uptime_seconds',
        'window_seconds',
    ]) }}
{% endmacro %}
