"""Importers: real data sets → telemetry JSON-lines.

- :mod:`ingest.importers.obd`: Open Bandit Dataset sample → recsys (docs/requirements/recsys.md); mapping in ``docs/importers/obd.md``.
"""
