{#- This incremental model's watermark: the newest ledger `finished_at` it has processed, stored on every row
    it wrote as `_ledger_finished_at_max` (1970-01-01 for an empty table). Only valid inside is_incremental(). -#}
{% macro ledger_watermark(column='_ledger_finished_at_max') %}
    (select coalesce(max({{ column }}), cast('1970-01-01 00:00:00' as timestamp)) from {{ this }})
{%- endmacro %}
