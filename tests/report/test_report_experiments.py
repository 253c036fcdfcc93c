"""The dashboard's experiment readout chart over a hand-written published mart (no dbt): it draws the cumulative
relative lift of each declared experiment's primary metric and says when a split is broken."""

from __future__ import annotations

from datetime import date

import polars as pl

from ingest.report.dashboard import _Marts, experiment_chart


def _publish(data_dir, rows: list[dict]) -> None:
    folder = data_dir / "marts"
    folder.mkdir(parents=True)
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(folder / "fct_recsys_experiment_results.parquet")


def _row(**values) -> dict:
    row = {"experiment_id": "exp-a", "treatment_bucket": "treatment", "control_bucket": "control", "metric": "ctr",
           "period_grain": "cumulative", "week_start": date(2024, 3, 4), "is_primary": True, "relative_lift": 0.2,
           "absolute_lift": 0.02, "ci_low": 0.01, "ci_high": 0.03, "p_value": 0.001, "srm_p_value": 0.5,
           "is_srm_flagged": False}
    return {**row, **values}


def test_primary_metric_lift_per_week_and_the_broken_split_is_named(tmp_path):
    _publish(tmp_path, [
        _row(),
        _row(week_start=date(2024, 3, 11), relative_lift=0.25),
        _row(period_grain="week", relative_lift=9.0),  # weekly rows are not drawn
        _row(metric="error_rate", is_primary=False, relative_lift=3.0),  # nor other metrics
        _row(experiment_id="exp-b", relative_lift=-0.1, p_value=0.4, srm_p_value=1e-6, is_srm_flagged=True),
        _row(experiment_id="exp-undeclared", control_bucket=None, relative_lift=None, p_value=None),
    ])
    chart = experiment_chart(_Marts(tmp_path), "recsys")
    assert chart.rendered
    assert chart.data.select("week_start", "comparison", "relative_lift").rows() == [
        (date(2024, 3, 4), "exp-a treatment vs control", 0.2),
        (date(2024, 3, 4), "exp-b treatment vs control", -0.1),
        (date(2024, 3, 11), "exp-a treatment vs control", 0.25),
    ]
    assert "exp-a treatment vs control (ctr): +25.0 %, p = 0.001" in chart.note
    assert "exp-b treatment vs control (ctr): -10.0 %, p = 0.4, SRM: split broken" in chart.note


def test_no_data_yet_without_the_mart(tmp_path):
    chart = experiment_chart(_Marts(tmp_path), "recsys")
    assert not chart.rendered and chart.note.startswith("no data yet")
