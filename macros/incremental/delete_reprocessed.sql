{#- Pre-hook of every incremental model (dbt_project.yml): deletes the rows of the keys this run recomputes
    (reprocess_keys, on the model's unique_key) before the new rows are inserted. delete+insert alone only
    replaces keys present in the new rows, so a key whose rows all disappeared (an erasure of a date's only
    player, a session merged into another) would otherwise keep stale rows. Renders nothing outside an
    incremental run. -#}
{% macro delete_reprocessed() %}
    {%- if execute and config.get('materialized') == 'incremental' and is_incremental() -%}
        delete from {{ this }}
        where {{ reprocess_filter() }}
    {%- endif -%}
{% endmacro %}
