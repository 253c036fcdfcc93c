"""The columns each alert source reads exist in the mart's documented contract (models/marts/*/_*__models.yml),
so a renamed column fails here rather than silently skipping a source."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from ingest.alerts import sources

MODELS = Path(__file__).resolve().parents[2] / "models" / "marts"


@cache
def _documented() -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for path in MODELS.glob("*/_*__models.yml"):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            columns[model["name"]] = {c["name"] for c in model.get("columns", [])}
    return columns


@pytest.mark.parametrize("mart, read", [
    ("fct_ability_alerts", sources.ABILITY_KEY + sources.ABILITY_DETAILS),
    ("dq_gameplay_sessions_daily", sources.GAMEPLAY_KEY + sources.GAMEPLAY_DETAILS + ["is_flagged"]),
    ("fct_recsys_experiment_results", sources.SRM_KEY + sources.SRM_DETAILS + ["is_srm_flagged"]),
    ("fct_recsys_experiment_results", sources.GUARDRAIL_KEY + sources.GUARDRAIL_DETAILS + ["guardrail_breached"]),
])
def test_sources_read_documented_columns(mart, read):
    documented = _documented()
    assert mart in documented
    assert set(read) <= documented[mart], set(read) - documented[mart]
    assert not any("player" in column or column.endswith("session_id") for column in read)


def test_alert_identity_is_stable_and_ignores_details():
    one = sources.Alert("ability_anomaly", {"entry": "a", "tier": 1}, "warning", "t", "x", {"observed_value": 1.0})
    same = sources.Alert("ability_anomaly", {"tier": 1, "entry": "a"}, "critical", "other", "y", {"observed_value": 2.0})
    other = sources.Alert("ability_anomaly", {"entry": "a", "tier": 2}, "warning", "t", "x")
    assert one.alert_id == same.alert_id != other.alert_id
    assert len(one.alert_id) == 32
