"""Helpers of the alert tests (imported as ``alerts_support``): published marts shaped like the real ones, dbt
results, a destinations file.

The marts are small Parquet files with the columns and types of the mart contracts
(models/marts/*/_*__models.yml); each also carries a raw ``player_id`` and a ``player_key`` column that no
alert may ever send, so the tests can check that nothing but the documented columns leaves.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

RAW_ID = "raw-player-7f3c9"
"""A raw player id planted in every fixture mart: it must never reach a receiver."""
PLAYER_KEY = "pk_0d4c1b2a9e8f7a6b"


def _write(data_dir: Path, name: str, frame: pl.DataFrame) -> None:
    folder = data_dir / "marts"
    folder.mkdir(parents=True, exist_ok=True)
    frame.with_columns(player_id=pl.lit(RAW_ID), player_key=pl.lit(PLAYER_KEY)).write_parquet(folder / f"{name}.parquet")


def write_ability_alerts(data_dir: Path) -> None:
    """Two triggered rows (fct_ability_alerts columns and types)."""
    _write(data_dir, "fct_ability_alerts", pl.DataFrame({
        "event_date": [date(2024, 1, 1), date(2024, 1, 2)],
        "rule_id": ["high_damage_per_cast", "inefficient_sustain"],
        "alert": ["High damage anomaly", "Inefficient sustain"],
        "entry": ["ability.cleave", "contract.soul_tithe"],
        "namespace": ["ability", "contract"],
        "tier": [1, 3],
        "kpi": ["dmg_per_cast", "effective_heal_ratio"],
        "observed_value": [160.0, 0.40],
        "comparator": [">", "<"],
        "threshold": [1.25, 0.45],
        "threshold_kind": ["baseline_multiple", "absolute"],
        "baseline_value": [100.0, None],
        "limit_value": [125.0, 0.45],
        "casts": [60.0, 5.0],
    }, schema_overrides={"tier": pl.Int64}))


def write_gameplay_dq(data_dir: Path) -> None:
    """Three days of dq_gameplay_sessions_daily; only 2024-01-02 is flagged."""
    _write(data_dir, "dq_gameplay_sessions_daily", pl.DataFrame({
        "session_date": [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)],
        "analytics_sessions": [100, 90, None],
        "authenticated_sessions": [101, 100, 50],
        "session_difference": [-1, -10, -50],
        "variance_rate": [0.0099, 0.10, None],
        "variance_threshold": [0.03, 0.03, 0.03],
        "is_flagged": [False, True, False],
        "status": ["ok", "variance_over_threshold", "not_ingested"],
    }, schema_overrides={"analytics_sessions": pl.Int64, "authenticated_sessions": pl.Int64}))


def write_experiment_results(data_dir: Path) -> None:
    """exp_a week 2024-01-01: SRM flagged on two metric rows (one alert), a breached latency guardrail on one
    of them; exp_b: clean."""
    week = date(2024, 1, 1)
    rows = [
        # experiment, bucket, metric, grain, srm, breached, bad direction
        ("exp_a", "treatment", "ctr", "week", True, False, None),
        ("exp_a", "treatment", "latency_p95_ms", "week", True, True, "increase"),
        ("exp_a", "treatment", "error_rate", "cumulative", False, None, "increase"),
        ("exp_b", "treatment", "ctr", "week", False, False, None),
    ]
    _write(data_dir, "fct_recsys_experiment_results", pl.DataFrame({
        "experiment_id": [r[0] for r in rows],
        "metric": [r[2] for r in rows],
        "period_grain": [r[3] for r in rows],
        "week_start": [week] * 4,
        "period_start": [week] * 4,
        "period_end": [date(2024, 1, 7)] * 4,
        "randomization_unit": ["user"] * 4,
        "control_bucket": ["control"] * 4,
        "treatment_bucket": [r[1] for r in rows],
        "control_units": [500, 500, 500, 480],
        "treatment_units": [400, 400, 400, 490],
        "control_value": [0.10, 120.0, 0.01, 0.10],
        "treatment_value": [0.11, 150.0, 0.011, 0.10],
        "absolute_lift": [0.01, 30.0, 0.001, 0.0],
        "relative_lift": [0.1, 0.25, 0.1, 0.0],
        "p_value": [0.2, 0.001, 0.4, 0.9],
        "ci_low": [-0.005, 12.0, -0.001, -0.01],
        "ci_high": [0.025, 48.0, 0.003, 0.01],
        "guardrail_bad_direction": [r[6] for r in rows],
        "guardrail_breached": [r[5] for r in rows],
        "srm_p_value": [0.0001, 0.0001, 0.3, 0.6],
        "is_srm_flagged": [r[4] for r in rows],
        "readout_note": ["sample ratio mismatch", "sample ratio mismatch", None, None],
    }, schema_overrides={"control_units": pl.Int64, "treatment_units": pl.Int64,
                         "guardrail_bad_direction": pl.String, "guardrail_breached": pl.Boolean,
                         "readout_note": pl.String}))


def write_run_results(data_dir: Path, statuses: dict[str, str]) -> None:
    """A dbt run_results.json (the fields dbt writes) with one result per test unique_id → status."""
    target = data_dir / "dbt" / "target"
    target.mkdir(parents=True, exist_ok=True)
    results = [{"unique_id": "model.game_telemetry.fct_ability_alerts", "status": "success", "failures": None,
                "message": "OK", "timing": [], "thread_id": "Thread-1", "execution_time": 0.1, "adapter_response": {}}]
    for unique_id, status in statuses.items():
        failures = 0 if status == "pass" else 3
        message = None if status == "pass" else \
            (f"Got 3 results, configured to {status} if != 0" if status != "error" else
             f"Conversion Error: Could not convert string '{RAW_ID}' to INT32")
        results.append({"unique_id": unique_id, "status": status, "failures": failures, "message": message,
                        "timing": [], "thread_id": "Thread-1", "execution_time": 0.2, "adapter_response": {}})
    (target / "run_results.json").write_text(json.dumps({
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                     "dbt_version": "1.11.16", "generated_at": "2024-01-08T06:00:00Z", "invocation_id": "x"},
        "results": results, "elapsed_time": 1.0, "args": {}}), encoding="utf-8")


TEST_WARN = "test.game_telemetry.gameplay_sessions_match_authenticated_within_3_percent"
TEST_FAIL = "test.game_telemetry.unique_fct_ability_alerts_rule_id.1a2b3c"
TEST_ERROR = "test.game_telemetry.not_null_dq_ingest_daily_event_date.9f8e7d"
TEST_PASS = "test.game_telemetry.not_null_fct_recsys_requests_request_id.0c1d2e"


def config_file(tmp_path: Path, destinations: list[dict], **settings) -> Path:
    """A destinations file outside the data directory (fast backoff unless given)."""
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps({"destinations": destinations, "backoff_seconds": 0.01, **settings}), encoding="utf-8")
    return path
