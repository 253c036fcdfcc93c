"""Importers: real data sets → telemetry JSON-lines.

- :mod:`ingest.importers.obd`: Open Bandit Dataset sample → recsys (seed 003); mapping in ``docs/importers/obd.md``.
"""
