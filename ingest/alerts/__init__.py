"""Alerts delivered: ability anomalies, the gameplay session-variance flag, failing dbt tests, experiment SRM and
guardrail breaches, posted once to webhooks and Slack (docs/alerts.md).

``sources`` reads the published marts and dbt's run results; ``outbox`` records alerts and deliveries under
``<data_dir>/alerts/``; ``destinations`` holds the configuration, payloads and one HTTP delivery.
"""

from .destinations import ALERTS_FILE_ENV, AlertsConfig, Destination, alerts_file, load_config, mask_url
from .outbox import DestinationReport, Outbox, SendReport, list_alerts, send_alerts
from .sources import SOURCES, Alert, detect

__all__ = [
    "ALERTS_FILE_ENV", "SOURCES", "Alert", "AlertsConfig", "Destination", "DestinationReport", "Outbox",
    "SendReport", "alerts_file", "detect", "list_alerts", "load_config", "mask_url", "send_alerts",
]
