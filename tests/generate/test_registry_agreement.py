"""The lists that must agree across the registry, the dbt seeds and the macros (docs/requirements/ability.md#registry: one metric
registry, hard-fail unknown; docs/requirements/politics.md#events: nine politics types)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def seed_rows(name: str) -> list[dict[str, str]]:
    with open(ROOT / "seeds" / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_metric_registry_seed_equals_the_schema_metric_keys():
    schema = json.loads((ROOT / "schemas/ability/metric_summary/1.0.json").read_text(encoding="utf-8"))
    metrics = schema["properties"]["metrics"]
    rates = schema["properties"]["meta"]["properties"]["sample_rates"]
    registry = seed_rows("ability_metric_registry")
    keys = [row["metric_key"] for row in registry]
    assert len(keys) == len(set(keys))
    assert metrics["additionalProperties"] is False and rates["additionalProperties"] is False
    assert list(metrics["properties"]) == keys          # same keys, same order
    assert list(rates["properties"]) == keys
    for row in registry:
        prop = metrics["properties"][row["metric_key"]]
        assert prop["type"] == ("integer" if row["metric_type"] == "counter" else "number"), row
        assert 0 < float(row["default_sample_rate"]) <= 1
    # docs/requirements/ability.md#sampling defaults
    defaults = {row["metric_key"]: float(row["default_sample_rate"]) for row in registry}
    assert (defaults["damage_total"], defaults["meteor_count"], defaults["reflect_count"], defaults["clone_count"],
            defaults["pull_events"]) == (1.0, 1.0, 0.5, 0.75, 0.5)


def test_entry_pattern_allows_exactly_the_six_namespaces():
    schema = json.loads((ROOT / "schemas/ability/metric_summary/1.0.json").read_text(encoding="utf-8"))
    pattern = re.compile(schema["properties"]["entry"]["pattern"])
    for namespace in ("ability", "contract", "event", "mythic", "resonance", "system"):
        assert pattern.search(f"{namespace}.blood_pact")
    for bad in ("weapon.sword", "ability", "ability.", "Ability.x", "ability.x.y", "abilityx.y"):
        assert not pattern.search(bad), bad


def test_politics_types_agree_across_registry_and_seed():
    registry = sorted(p.parent.name for p in (ROOT / "schemas/politics").glob("*/1.0.json"))
    seed = sorted(row["event_type"] for row in seed_rows("politics_event_types"))
    assert registry == seed and len(registry) == 9
    for row in seed_rows("politics_event_types"):
        schema = json.loads((ROOT / "schemas/politics" / row["event_type"] / "1.0.json").read_text(encoding="utf-8"))
        assert schema["properties"]["type"]["const"] == row["wire_type"]
        for field in re.findall(r"[a-zA-Z]+", row["value_field"]):
            assert schema["properties"][field]["type"] == "number", (row["event_type"], field)
        assert ("success" in schema["properties"]) == (row["has_outcome"] == "true")


def test_achievements_and_rules_name_real_types():
    types = {row["event_type"] for row in seed_rows("politics_event_types")}
    assert {row["event_type"] for row in seed_rows("politics_achievements")} <= types
    for row in seed_rows("politics_abuse_rules"):
        assert row["event_type"] in types | {""}
    kpis = {"dmg_per_cast", "effective_heal_ratio", "avg_cc_duration", "resource_cycle_efficiency", "execution_rate",
            "uptime_ratio", "avg_silence_duration", "cc_full_duration_ratio"}
    assert {row["kpi"] for row in seed_rows("ability_alert_rules")} <= kpis
    baseline_kpis = {row["kpi"] for row in seed_rows("ability_tier_baselines")}
    for row in seed_rows("ability_alert_rules"):
        if row["threshold_kind"] == "baseline_multiple":
            assert row["kpi"] in baseline_kpis
            assert {int(r["tier"]) for r in seed_rows("ability_tier_baselines") if r["kpi"] == row["kpi"]} == {1, 2, 3, 4, 5}


def test_retention_windows_follow_the_seeds():
    politics = json.loads((ROOT / "schemas/politics/_family.json").read_text(encoding="utf-8"))
    ability = json.loads((ROOT / "schemas/ability/_family.json").read_text(encoding="utf-8"))
    # docs/requirements/politics.md#retention, in the shape ingest/lifecycle/retention.py reads (aggregates per grain
    # of agg_politics_<grain>)
    assert politics["retention_days"] == {"raw": 14, "aggregates": {"daily": 180, "weekly": 365}}
    assert (ability["retention_days"]["hot"], ability["retention_days"]["warm"], ability["retention_days"]["cold"]) \
        == (1, 14, 90)  # docs/requirements/ability.md#retention
    assert ability["retention_days"]["raw"] == 14  # the lake holds the warm layer
