"""What an alert is, and where alerts come from: the published marts and dbt's test results (docs/alerts.md).

Every source reads a fixed list of columns (never a player or session key) and gives each alert a stable
identity: ``alert_id`` = SHA-256 of the source name and its key columns, so the same triggered row is the same
alert in every run.

Sources:

- ``ability_anomaly``: ``fct_ability_alerts``, one alert per (event_date, entry, tier, rule_id).
- ``gameplay_session_variance``: ``dq_gameplay_sessions_daily`` rows with ``is_flagged``, one per session_date.
- ``experiment_srm``: ``fct_recsys_experiment_results`` rows with ``is_srm_flagged``, one per
  (experiment_id, period_grain, week_start): the split of a period, whatever the bucket or metric.
- ``experiment_guardrail``: ``fct_recsys_experiment_results`` rows with ``guardrail_breached``, one per
  (experiment_id, treatment_bucket, metric, period_grain, week_start).
- ``dq_test``: dbt tests with status ``fail``, ``warn`` or ``error`` in ``<data_dir>/dbt/target/run_results.json``,
  one per (test, status, episode): an episode ends when the test passes again, so a test that breaks again
  later is a new alert while one that keeps failing is not.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from collections.abc import Callable

import polars as pl

from ..warehouse.publish import marts_path

SOURCES = ("ability_anomaly", "gameplay_session_variance", "dq_test", "experiment_srm", "experiment_guardrail")
"""Every alert source, in the order they are detected and sent."""
DQ_STATUSES = {"fail": "critical", "error": "critical", "warn": "warning"}
"""dbt test statuses that raise a ``dq_test`` alert, and the alert's severity."""


@dataclass(frozen=True)
class Alert:
    """One alert, as recorded in the outbox and sent to destinations.

    Attributes:
        source: one of :data:`SOURCES`.
        key: the identity columns and their values (JSON scalars: dates as ISO strings).
        severity: ``critical``, ``warning`` or ``info``.
        title: one line for a person.
        text: what was observed against what limit.
        details: further columns of the row (JSON scalars), never a player or session key.
    """

    source: str
    key: dict[str, Any]
    severity: str
    title: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        """Stable identity: hex SHA-256 of the source and its canonical key (32 characters)."""
        canonical = json.dumps([self.source, self.key], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]

    def to_record(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "source": self.source, "key": self.key, "severity": self.severity,
                "title": self.title, "text": self.text, "details": self.details}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alert:
        return cls(record["source"], record["key"], record["severity"], record["title"], record["text"],
                   record.get("details") or {})


@dataclass
class Detection:
    """What one detection pass found.

    Attributes:
        alerts: every alert the sources hold now (new and already known), in source order.
        skipped: source → why it was not read (a mart not published, no test results yet).
        dq_episodes: the updated episode state of dbt tests (test unique_id → {"episode", "open"}).
    """

    alerts: list[Alert]
    skipped: dict[str, str]
    dq_episodes: dict[str, dict[str, Any]]


def _scalar(value: Any) -> Any:
    """A JSON scalar: dates and timestamps as ISO strings, NaN as None, floats rounded to 6 significant digits."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else float(f"{value:.6g}")
    return value


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _rows(data_dir: Path, mart: str, columns: list[str], where: str | None) -> list[dict[str, Any]] | None:
    """The ``columns`` of a published mart (only those: nothing else is ever read), rows where ``where`` is true;
    None when the mart is not published or lacks one of the columns."""
    path = marts_path(data_dir) / f"{mart}.parquet"
    if not path.exists() or not set(columns) <= set(pl.read_parquet_schema(path)):
        return None
    frame = pl.read_parquet(path, columns=columns)
    if where is not None:
        frame = frame.filter(pl.col(where).fill_null(False))
    return [{k: _scalar(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


ABILITY_KEY = ["event_date", "entry", "tier", "rule_id"]
ABILITY_DETAILS = ["alert", "namespace", "kpi", "observed_value", "comparator", "limit_value", "threshold",
                   "threshold_kind", "baseline_value", "casts"]
GAMEPLAY_KEY = ["session_date"]
GAMEPLAY_DETAILS = ["analytics_sessions", "authenticated_sessions", "session_difference", "variance_rate",
                    "variance_threshold", "status"]
SRM_KEY = ["experiment_id", "period_grain", "week_start"]
SRM_DETAILS = ["period_start", "period_end", "randomization_unit", "srm_p_value"]
GUARDRAIL_KEY = ["experiment_id", "treatment_bucket", "metric", "period_grain", "week_start"]
GUARDRAIL_DETAILS = ["period_start", "period_end", "control_bucket", "control_value", "treatment_value",
                     "absolute_lift", "relative_lift", "ci_low", "ci_high", "p_value", "guardrail_bad_direction"]


def _ability(data_dir: Path) -> list[Alert] | None:
    rows = _rows(data_dir, "fct_ability_alerts", ABILITY_KEY + ABILITY_DETAILS, None)
    if rows is None:
        return None
    alerts = []
    for row in rows:
        key = {k: row[k] for k in ABILITY_KEY}
        details = {k: row[k] for k in ABILITY_DETAILS}
        alerts.append(Alert(
            "ability_anomaly", key, "warning",
            f"{row['alert'] or row['rule_id']}: {row['entry']} (tier {row['tier']}) on {row['event_date']}",
            f"{row['kpi']} = {_number(row['observed_value'])} {row['comparator']} limit {_number(row['limit_value'])}"
            f" over {_number(row['casts'])} casts",
            details))
    return alerts


def _gameplay(data_dir: Path) -> list[Alert] | None:
    rows = _rows(data_dir, "dq_gameplay_sessions_daily", GAMEPLAY_KEY + GAMEPLAY_DETAILS + ["is_flagged"], "is_flagged")
    if rows is None:
        return None
    alerts = []
    for row in rows:
        rate = row["variance_rate"]
        alerts.append(Alert(
            "gameplay_session_variance", {k: row[k] for k in GAMEPLAY_KEY}, "warning",
            f"Session count variance on {row['session_date']}",
            f"{_number(row['analytics_sessions'])} analytics sessions against {_number(row['authenticated_sessions'])}"
            f" authenticated: {'n/a' if rate is None else f'{rate:.1%}'} over the "
            f"{_number(row['variance_threshold'])} threshold",
            {k: row[k] for k in GAMEPLAY_DETAILS}))
    return alerts


def _experiment_rows(data_dir: Path, columns: list[str], where: str) -> list[dict[str, Any]] | None:
    return _rows(data_dir, "fct_recsys_experiment_results", columns + [where], where)


def _srm(data_dir: Path) -> list[Alert] | None:
    rows = _experiment_rows(data_dir, SRM_KEY + SRM_DETAILS, "is_srm_flagged")
    if rows is None:
        return None
    alerts: dict[str, Alert] = {}
    for row in rows:  # one alert per period of an experiment: every bucket and metric shares the split
        alert = Alert(
            "experiment_srm", {k: row[k] for k in SRM_KEY}, "critical",
            f"Sample ratio mismatch in {row['experiment_id']} ({row['period_grain']} of {row['week_start']})",
            f"srm p-value {_number(row['srm_p_value'])} < 0.001 over {row['period_start']} .. {row['period_end']}:"
            " the split is broken, do not read the lift",
            {k: row[k] for k in SRM_DETAILS})
        alerts.setdefault(alert.alert_id, alert)
    return list(alerts.values())


def _guardrail(data_dir: Path) -> list[Alert] | None:
    rows = _experiment_rows(data_dir, GUARDRAIL_KEY + GUARDRAIL_DETAILS, "guardrail_breached")
    if rows is None:
        return None
    alerts = []
    for row in rows:
        relative = row["relative_lift"]
        alerts.append(Alert(
            "experiment_guardrail", {k: row[k] for k in GUARDRAIL_KEY}, "critical",
            f"Guardrail {row['metric']} breached in {row['experiment_id']} / {row['treatment_bucket']}"
            f" ({row['period_grain']} of {row['week_start']})",
            f"{row['metric']} {_number(row['treatment_value'])} against {_number(row['control_value'])} in control"
            f" ({'n/a' if relative is None else f'{relative:+.1%}'}, p = {_number(row['p_value'])}),"
            f" a significant {row['guardrail_bad_direction']}",
            {k: row[k] for k in GUARDRAIL_DETAILS}))
    return alerts


def run_results_path(data_dir: Path) -> Path:
    """dbt's results of the last ``telemetry dbt`` command on this data directory."""
    return Path(data_dir) / "dbt" / "target" / "run_results.json"


def _dq(data_dir: Path, episodes: dict[str, dict[str, Any]]) -> list[Alert] | None:
    """Alerts of failing tests; ``episodes`` is updated in place (a test seen passing closes its episode)."""
    path = run_results_path(data_dir)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    generated_at = (document.get("metadata") or {}).get("generated_at")
    alerts = []
    for result in document.get("results", []):
        unique_id = str(result.get("unique_id", ""))
        if not unique_id.startswith("test."):
            continue
        status = result.get("status")
        state = episodes.setdefault(unique_id, {"episode": 0, "open": False})
        if status not in DQ_STATUSES:
            if status == "pass":
                state["open"] = False
            continue
        if not state["open"]:
            state["episode"], state["open"] = state["episode"] + 1, True
        name = unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id
        failures = result.get("failures")
        # fail/warn messages are dbt's own ("Got 3 results, configured to warn if != 0"); an error's message is
        # a database error that may quote data, so it is never sent
        text = (result.get("message") or f"status {status}") if status != "error" else \
            "the test could not run (see the dbt log)"
        alerts.append(Alert(
            "dq_test", {"test": unique_id, "status": status, "episode": state["episode"]}, DQ_STATUSES[status],
            f"Data-quality test {status}: {name}", str(text)[:300],
            {"failures": failures, "run_generated_at": generated_at}))
    return alerts


MART_SOURCES: dict[str, Callable[[Path], list[Alert] | None]] = {
    "ability_anomaly": _ability, "gameplay_session_variance": _gameplay, "experiment_srm": _srm,
    "experiment_guardrail": _guardrail,
}
SOURCE_INPUTS = {"ability_anomaly": "fct_ability_alerts", "gameplay_session_variance": "dq_gameplay_sessions_daily",
                 "experiment_srm": "fct_recsys_experiment_results",
                 "experiment_guardrail": "fct_recsys_experiment_results", "dq_test": "dbt/target/run_results.json"}
"""Source → the published mart (or file) it reads."""


def detect(data_dir: Path | str, dq_episodes: dict[str, dict[str, Any]] | None = None) -> Detection:
    """Read every source and return the alerts they hold now.

    Args:
        data_dir: the data directory (published marts under ``marts/``, dbt results under ``dbt/target``).
        dq_episodes: the test-episode state kept in the outbox (not modified; the updated copy is returned).

    Returns:
        A :class:`Detection`; a source whose input is missing is listed in ``skipped``, not an error.
    """
    data_dir = Path(data_dir)
    episodes = json.loads(json.dumps(dq_episodes or {}))
    alerts: list[Alert] = []
    skipped: dict[str, str] = {}
    for source in SOURCES:
        found = _dq(data_dir, episodes) if source == "dq_test" else MART_SOURCES[source](data_dir)
        if found is None:
            skipped[source] = f"{SOURCE_INPUTS[source]} is not published (or lacks the columns read)" \
                if source in MART_SOURCES else f"no readable {SOURCE_INPUTS[source]} yet"
        else:
            alerts.extend(found)
    return Detection(alerts, skipped, episodes)
