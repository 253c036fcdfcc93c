{#- The watermark value to store on the rows a run writes: the newest ledger `finished_at`, capped by the
    watermark of each incremental upstream model (`upstreams`, model names). The cap makes a mart that is built
    without its upstream facts keep an old watermark, so it redoes the same dates once they have caught up. -#}
{% macro ledger_stamp(upstreams=[]) %}
    {%- if upstreams | length == 0 -%}
        (select max(finished_at) from {{ ref('stg_ops__ledger') }})
    {%- else -%}
        least(
            (select max(finished_at) from {{ ref('stg_ops__ledger') }}),
            {%- for upstream in upstreams %}
            (select max(_ledger_finished_at_max) from {{ ref(upstream) }}){{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{% endmacro %}
