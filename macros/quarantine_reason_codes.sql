{#- The closed list of quarantine reason codes (docs/lake.md, ingest.errors.REASON_CODES), one dq_ingest_daily column each. The seed
    quarantine_reasons holds the same list with descriptions and flags; a singular test keeps the two equal. -#}
{% macro quarantine_reason_codes() %}
    {{ return([
        'invalid_json',
        'encoding_error',
        'line_too_long',
        'not_an_object',
        'truncated_input',
        'corrupt_input',
        'batch_too_large',
        'unknown_event_type',
        'unknown_schema_version',
        'schema_violation',
        'unknown_reference',
        'future_timestamp',
        'too_late',
        'rate_limited',
        'unconvertible_value',
    ]) }}
{% endmacro %}
