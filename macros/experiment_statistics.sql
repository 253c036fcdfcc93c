{#- Statistics for experiment readouts (fct_recsys_experiment_results, docs/warehouse.md "Experiment readouts"),
    as plain SQL expressions: the engines have no normal CDF or chi-square distribution built in. Every macro
    repeats its argument many times, so pass a column name (or a short expression), not a subquery. -#}

{#- W. J. Cody's rational Chebyshev approximations of erfc (Math. Comp. 23, 1969; the CALERF routine of
    SPECFUN), for an argument x ≥ 0: relative error below 1e-15 in IEEE doubles over the whole range, tails
    included (erfc(x) underflows to 0 beyond x ≈ 26.5). Three intervals: x ≤ 0.46875 (erf series, 1 − erf),
    x ≤ 4 and x > 4; exp(−x²) is split as exp(−ysq²)·exp(−(x − ysq)(x + ysq)) with ysq = floor(16x)/16, as
    Cody does, so that the tail keeps its relative precision. -#}
{% macro erfc_nonnegative(x) %}
    {%- set a = [3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03, 1.85777706184603153e-1] -%}
    {%- set b = [2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03] -%}
    {%- set c = [5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
                 8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
                 2.15311535474403846e-8] -%}
    {%- set d = [1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
                 3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03] -%}
    {%- set p = [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
                 6.58749161529837803e-4, 1.63153871373020978e-2] -%}
    {%- set q = [2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
                 2.33520497626869185e-3] -%}
    {%- set y = '(cast(' ~ x ~ ' as double))' -%}
    {%- set ysq = '(' ~ y ~ ' * ' ~ y ~ ')' -%}
    {#- interval 1: erf(y) = y·(num + a4)/(den + b4), Horner in y² -#}
    {%- set num1 = namespace(v=a[4] ~ ' * ' ~ ysq) -%}
    {%- set den1 = namespace(v=ysq) -%}
    {%- for i in range(3) -%}
        {%- set num1.v = '((' ~ num1.v ~ ' + ' ~ a[i] ~ ') * ' ~ ysq ~ ')' -%}
        {%- set den1.v = '((' ~ den1.v ~ ' + ' ~ b[i] ~ ') * ' ~ ysq ~ ')' -%}
    {%- endfor -%}
    {%- set erf1 = '(' ~ y ~ ' * (' ~ num1.v ~ ' + ' ~ a[3] ~ ') / (' ~ den1.v ~ ' + ' ~ b[3] ~ '))' -%}
    {#- interval 2: Horner in y -#}
    {%- set num2 = namespace(v=c[8] ~ ' * ' ~ y) -%}
    {%- set den2 = namespace(v=y) -%}
    {%- for i in range(7) -%}
        {%- set num2.v = '((' ~ num2.v ~ ' + ' ~ c[i] ~ ') * ' ~ y ~ ')' -%}
        {%- set den2.v = '((' ~ den2.v ~ ' + ' ~ d[i] ~ ') * ' ~ y ~ ')' -%}
    {%- endfor -%}
    {%- set ratio2 = '((' ~ num2.v ~ ' + ' ~ c[7] ~ ') / (' ~ den2.v ~ ' + ' ~ d[7] ~ '))' -%}
    {#- interval 3: Horner in 1/y² -#}
    {%- set inv = '(1.0 / ' ~ ysq ~ ')' -%}
    {%- set num3 = namespace(v=p[5] ~ ' * ' ~ inv) -%}
    {%- set den3 = namespace(v=inv) -%}
    {%- for i in range(4) -%}
        {%- set num3.v = '((' ~ num3.v ~ ' + ' ~ p[i] ~ ') * ' ~ inv ~ ')' -%}
        {%- set den3.v = '((' ~ den3.v ~ ' + ' ~ q[i] ~ ') * ' ~ inv ~ ')' -%}
    {%- endfor -%}
    {%- set ratio3 = '((5.6418958354775628695e-1 - ' ~ inv ~ ' * (' ~ num3.v ~ ' + ' ~ p[4] ~ ') / (' ~ den3.v ~ ' + ' ~ q[4] ~ ')) / ' ~ y ~ ')' -%}
    {%- set ysq16 = '(floor(' ~ y ~ ' * 16.0) / 16.0)' -%}
    {%- set gauss = '(exp(-' ~ ysq16 ~ ' * ' ~ ysq16 ~ ') * exp(-((' ~ y ~ ' - ' ~ ysq16 ~ ') * (' ~ y ~ ' + ' ~ ysq16 ~ '))))' -%}
    (case
        when {{ y }} is null then null
        when {{ y }} <= 0.46875 then 1.0 - {{ erf1 }}
        when {{ y }} <= 4.0 then {{ gauss }} * {{ ratio2 }}
        when {{ y }} < 26.543 then {{ gauss }} * {{ ratio3 }}
        else 0.0
    end)
{%- endmacro %}

{#- Standard normal CDF Φ(z) = erfc(−z/√2)/2, for any z (null for null). -#}
{% macro normal_cdf(z) %}
    (case
        when ({{ z }}) is null then null
        when ({{ z }}) >= 0 then 1.0 - 0.5 * {{ erfc_nonnegative('(' ~ z ~ ') * 0.70710678118654752440') }}
        else 0.5 * {{ erfc_nonnegative('-(' ~ z ~ ') * 0.70710678118654752440') }}
    end)
{%- endmacro %}

{#- Two-sided p-value of a z statistic, 2·(1 − Φ(|z|)) = erfc(|z|/√2), full relative precision in the tail. -#}
{% macro two_sided_p_value(z) %}
    {{ erfc_nonnegative('abs(' ~ z ~ ') * 0.70710678118654752440') }}
{%- endmacro %}

{#- The 97.5 % quantile of the standard normal (95 % two-sided intervals): Φ⁻¹(0.975). -#}
{% macro z_975() %}1.959963984540054{% endmacro %}

{#- Survival function P(X ≥ x) of a chi-square variable with `df` degrees of freedom (an integer SQL expression,
    1 ≤ df ≤ max_df; null beyond), in closed form: the regularized upper gamma Q(df/2, x/2) of an integer or
    half-integer shape is a finite sum.
      even df = 2m:   exp(−x/2) · Σ_{i=0}^{m−1} (x/2)^i / i!
      odd df = 2m+1:  erfc(√(x/2)) + exp(−x/2) · Σ_{i=1}^{m} (x/2)^(i−1/2) / Γ(i + 1/2)
    (df = 1: 2·(1 − Φ(√x)); df = 2: exp(−x/2)). `x` ≥ 0 (null for null). -#}
{% macro chi_square_sf(x, df, max_df=12) %}
    {%- set h = '(cast(' ~ x ~ ' as double) / 2.0)' -%}
    (case
        when ({{ x }}) is null or ({{ df }}) is null then null
        {%- for k in range(1, max_df + 1) %}
        when ({{ df }}) = {{ k }} then
            {%- if k % 2 == 0 %}
            exp(-{{ h }}) * (1.0
                {%- set term = namespace(factorial=1) -%}
                {%- for i in range(1, k // 2) -%}
                    {%- set term.factorial = term.factorial * i %} + power({{ h }}, {{ i }}) / {{ term.factorial }}.0
                {%- endfor -%})
            {%- else %}
            {{ erfc_nonnegative('sqrt(' ~ h ~ ')') }}
                {%- set gamma = namespace(v=0.88622692545275801365) -%}  {#- Γ(3/2) = √π/2 -#}
                {%- for i in range(1, (k - 1) // 2 + 1) %}
                + exp(-{{ h }}) * power({{ h }}, {{ i - 0.5 }}) / {{ '%.17g' | format(gamma.v) }}
                    {%- set gamma.v = gamma.v * (i + 0.5) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor %}
    end)
{%- endmacro %}
