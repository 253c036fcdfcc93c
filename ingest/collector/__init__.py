"""The HTTP collector (docs/requirements/design.md#collector): durable spool, per-event answers, SDK adapters, tokens, the read API.

``telemetry serve`` runs :func:`ingest.collector.app.create_app` under uvicorn; ``telemetry ingest --spool``
lands what a killed server left (:func:`ingest.collector.spool.land_all`).
"""
