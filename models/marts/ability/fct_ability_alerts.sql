{#- The alert thresholds of docs/requirements/ability.md#alerts, evaluated for each daily (entry, tier) row of agg_ability_metrics_daily
    over the rule's trailing window: the window_days days ending on that row's date (1 = the day alone).
    Rules (seed ability_alert_rules): a KPI, a comparator (> or <), a threshold that is absolute or a multiple
    of the tier baseline (seed ability_tier_baselines), a minimum number of casts in the window (a rolling count
    per entry and tier: "over 50 casts"), and optionally a tag prefix the entry must carry (sustain entries: a
    tag starting with 'sustain'). The KPI is recomputed from the window's summed totals (macro ability_kpis),
    never averaged over daily ratios. A null KPI (zero denominator) never alerts. Rebuilt each run from the daily
    rollup, which outlives the raw data, so a late day that changes the rollup changes every window holding it. -#}

{%- set kpis = ['dmg_per_cast', 'effective_heal_ratio', 'avg_cc_duration', 'resource_cycle_efficiency',
                'execution_rate', 'uptime_ratio', 'avg_silence_duration', 'cc_full_duration_ratio'] %}
{%- set inputs = ability_kpi_input_metrics() %}

with

daily as (
    select
        event_date,
        entry,
        namespace,
        tier,
        entry_tags,
        {%- for key in inputs %}
        {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('agg_ability_metrics_daily') }}
),

rules as (
    select
        rule_id,
        alert,
        kpi,
        comparator,
        threshold,
        threshold_kind,
        min_casts,
        window_days,
        entry_tag_prefix
    from {{ ref('ability_alert_rules') }}
),

baselines as (
    select
        tier,
        kpi,
        baseline_value
    from {{ ref('ability_tier_baselines') }}
),

windows as (
    select distinct window_days
    from rules
),

-- every daily row, with the totals of its (entry, tier) over each rule window ending on its date
windowed as (
    select
        anchor.event_date,
        anchor.entry,
        anchor.namespace,
        anchor.tier,
        anchor.entry_tags,
        windows.window_days,
        min(history.event_date) as window_first_date,
        {%- for key in inputs %}
        sum(history.{{ key }}) as {{ key }}{{ "," if not loop.last }}
        {%- endfor %}
    from daily as anchor
    cross join windows
    inner join daily as history
        on anchor.entry = history.entry
        and anchor.tier = history.tier
        and {{ dbt.datediff('history.event_date', 'anchor.event_date', 'day') }} between 0 and windows.window_days - 1
    group by
        anchor.event_date, anchor.entry, anchor.namespace, anchor.tier, anchor.entry_tags, windows.window_days
),

window_kpis as (
    select
        event_date,
        entry,
        namespace,
        tier,
        entry_tags,
        window_days,
        window_first_date,
        casts,
        {{ ability_kpis('windowed') }}
    from windowed
),

kpi_values as (
    {%- for kpi in kpis %}
    select event_date, entry, namespace, tier, entry_tags, window_days, window_first_date, casts, '{{ kpi }}' as kpi,
        {{ kpi }} as observed_value
    from window_kpis
    {%- if not loop.last %}

    union all

    {% endif %}
    {%- endfor %}
),

evaluated as (
    select
        kpi_values.event_date,
        rules.rule_id,
        rules.alert,
        kpi_values.entry,
        kpi_values.namespace,
        kpi_values.tier,
        kpi_values.kpi,
        kpi_values.observed_value,
        rules.comparator,
        rules.threshold,
        rules.threshold_kind,
        baselines.baseline_value,
        case
            when rules.threshold_kind = 'baseline_multiple' then rules.threshold * baselines.baseline_value
            else rules.threshold
        end as limit_value,
        kpi_values.casts,
        kpi_values.window_days,
        kpi_values.window_first_date
    from kpi_values
    inner join rules
        on kpi_values.kpi = rules.kpi
        and kpi_values.window_days = rules.window_days
    left join baselines
        on rules.kpi = baselines.kpi
        and kpi_values.tier = baselines.tier
    where kpi_values.observed_value is not null
        and coalesce(kpi_values.casts, 0) >= rules.min_casts
        and (
            rules.entry_tag_prefix is null
            or ',' || coalesce(kpi_values.entry_tags, '') like '%,' || rules.entry_tag_prefix || '%'
        )
),

final as (
    select
        cast(event_date as date) as event_date,
        cast(rule_id as string) as rule_id,
        cast(alert as string) as alert,
        cast(entry as string) as entry,
        cast(namespace as string) as namespace,
        cast(tier as bigint) as tier,
        cast(kpi as string) as kpi,
        cast(observed_value as double) as observed_value,
        cast(comparator as string) as comparator,
        cast(threshold as double) as threshold,
        cast(threshold_kind as string) as threshold_kind,
        cast(baseline_value as double) as baseline_value,
        cast(limit_value as double) as limit_value,
        cast(casts as double) as casts,
        cast(window_days as bigint) as window_days,
        cast(window_first_date as date) as window_first_date
    from evaluated
    where (comparator = '>' and observed_value > limit_value)
        or (comparator = '<' and observed_value < limit_value)
)

select * from final
