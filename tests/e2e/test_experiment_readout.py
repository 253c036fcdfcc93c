"""The experiment readout (fct_recsys_experiment_results) on generated data with known effects, through the
whole spine: wire events → ingest → dbt → the mart.

Two declared experiments: `exp-lift` (users, an equal split, treatment clicks with 1.3 × each user's click
probability, a pre-period for CUPED) and `exp-split` (declared 50/50, landed 60/40). The users of exp-lift were
in the undeclared experiment `exp-prior` during the pre-period. Every expected number is computed here from the
generated events with numpy/scipy: the delta-method variance of a ratio written from its textbook form
(Deng et al., "Applying the Delta Method in Metric Analytics", KDD 2018: Var(X̄/Ȳ) = (σx²/μy² − 2μxσxy/μy³ +
μx²σy²/μy⁴)/n), scipy.stats.norm for the z-test and scipy.stats.chisquare for the sample ratio; CUPED from
linearised per-user values (θ = Cov(ΔR, ΔR′)/Var(ΔR′)). The declarations are added to the seed table the way an
analyst's own rows would be.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import duckdb
import numpy as np
import orjson
import pytest
from scipy import stats

from ingest.config import PROJECT_ROOT
from ingest.pipeline import ingest_files, ingest_settings
from ingest.privacy import IdentityHasher, Keyring
from ingest.registry import Registry
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]

START = date(2024, 3, 4)  # a Monday
PRE_DAYS = 14
WEEKS = 2
NAMESPACE = uuid.UUID("2d8f7c0e-6a51-4c1b-9f3e-0c4b7a2e9d11")
DECLARATIONS = [
    ("exp-lift", "control", True, 0.5, "ctr", "error_rate:increase;latency_p95_ms:increase", START, None),
    ("exp-lift", "treatment", False, 0.5, "ctr", "error_rate:increase;latency_p95_ms:increase", START, None),
    ("exp-split", "control", True, 1.0, "ctr", "error_rate:increase", START, None),
    ("exp-split", "treatment", False, 1.0, "ctr", "error_rate:increase", START, None),
]
RATIOS = {"ctr": ("clicks", "impressions"), "impressions_per_request": ("impressions", "requests"),
          "error_rate": ("errors", "requests")}


@dataclass
class Request:
    """One generated request and what followed (the unit-level inputs of the expected values)."""

    experiment_id: str
    bucket: str
    user: str
    day: date
    impressions: int
    clicks: int
    errors: int
    latency_ms: float
    events: list[dict] = field(default_factory=list)


def _ms(day: date, seconds: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000) + seconds * 1000


def _request(rng: random.Random, experiment_id: str, bucket: str, user: str, day: date, p_click: float) -> Request:
    at = _ms(day, rng.randrange(3600, 80_000))
    rid = str(uuid.UUID(bytes=rng.getrandbits(128).to_bytes(16, "big"), version=4))
    common = {"schema_version": "1.0", "request_id": rid, "user_id": user, "experiment_id": experiment_id,
              "bucket": bucket}
    k = rng.randrange(2, 5)
    items = rng.sample(range(300), k)
    latency = round(rng.lognormvariate(3, 0.4) * (1.1 if bucket == "treatment" else 1.0), 3)
    events = [{"event_type": "request", "timestamp_ms": at, **common, "k": k},
              {"event_type": "ranking", "timestamp_ms": at + 30, **common, "latency_ms": latency,
               "catalog_size": 300, "algorithm": bucket,
               "items": [{"canonical_id": f"item-{i}", "position": n + 1, "score": 0.5} for n, i in enumerate(items)]}]
    clicks = 0
    for n, item in enumerate(items):
        events.append({"event_type": "impression", "timestamp_ms": at + 100, **common,
                       "canonical_id": f"item-{item}", "position": n + 1})
        if rng.random() < p_click:
            clicks += 1
            events.append({"event_type": "click", "timestamp_ms": at + 2000 + n, **common,
                           "canonical_id": f"item-{item}", "position": n + 1, "engagement_type": "click"})
    errors = 0
    if rng.random() < 0.03:
        errors = 1
        events.append({"event_type": "error", "timestamp_ms": at + 40, "schema_version": "1.0", "request_id": rid,
                       "component": "ranker", "severity": "error", "error_code": "RANKER_TIMEOUT"})
    return Request(experiment_id, bucket, user, day, k, clicks, errors, latency, events)


def generate(seed: int = 20) -> list[Request]:
    rng = random.Random(seed)
    requests: list[Request] = []
    for n in range(700):  # exp-lift: a random equal split, heterogeneous users, a pre-period in exp-prior
        user, bucket = f"lift-{n}", rng.choice(("control", "treatment"))
        p_user = 0.04 + 0.16 * rng.random()
        for _ in range(rng.randrange(0, 4)):
            day = START - timedelta(days=rng.randrange(1, PRE_DAYS + 1))
            requests.append(_request(rng, "exp-prior", "all", user, day, p_user))
        lift = 1.3 if bucket == "treatment" else 1.0
        for _ in range(rng.randrange(1, 6)):
            requests.append(_request(rng, "exp-lift", bucket, user, START + timedelta(days=rng.randrange(7 * WEEKS)),
                                     p_user * lift))
    for n in range(500):  # exp-split: 300 control, 200 treatment, declared 50/50
        bucket = "control" if n < 300 else "treatment"
        for _ in range(rng.randrange(1, 4)):
            requests.append(_request(rng, "exp-split", bucket, f"split-{n}", START + timedelta(days=rng.randrange(7 * WEEKS)),
                                     0.1))
    return requests


@pytest.fixture(scope="module")
def readout(tmp_path_factory):
    data = tmp_path_factory.mktemp("experiments")
    requests = generate()
    source = data / "import" / "experiments.jsonl"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"".join(orjson.dumps(event) + b"\n" for r in requests for event in r.events))
    registry = Registry.load(PROJECT_ROOT / "schemas")
    settings = ingest_settings(data, registry, Keyring.single(IdentityHasher.demo()), datetime.now(timezone.utc),
                               backfill=True)
    batches = ingest_files([source], settings, data, registry=registry).batches
    assert sum(b.quarantined for b in batches) == 0
    run_dbt(["seed", "--select", "recsys_experiments"], data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        con.executemany("insert into main.recsys_experiments (experiment_id, bucket, is_control, allocation, "
                        "primary_metric, guardrail_metrics, start_date, end_date) values (?, ?, ?, ?, ?, ?, ?, ?)",
                        DECLARATIONS)
    run_dbt(["run", "--select", "+fct_recsys_experiment_results"], data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select * from fct_recsys_experiment_results").pl().to_dicts()
    return requests, {(r["experiment_id"], r["treatment_bucket"], r["metric"], r["period_grain"], r["week_start"]): r
                      for r in rows}


# --- the independent computation ------------------------------------------------------------------------------
def periods() -> list[tuple[str, date, date, date]]:
    """(grain, week_start, first day, last day) of every period of the two experiments."""
    out = []
    for week in range(WEEKS):
        monday = START + timedelta(days=7 * week)
        out.append(("week", monday, monday, monday + timedelta(days=6)))
        out.append(("cumulative", monday, START, monday + timedelta(days=6)))
    return out


def unit_totals(requests: list[Request], experiment_id: str, first: date, last: date) -> dict[str, dict[str, dict]]:
    """bucket → user → {requests, impressions, clicks, errors} over the period."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in requests:
        if r.experiment_id == experiment_id and first <= r.day <= last:
            totals = out[r.bucket].setdefault(r.user, {"requests": 0, "impressions": 0, "clicks": 0, "errors": 0})
            totals["requests"] += 1
            totals["impressions"] += r.impressions
            totals["clicks"] += r.clicks
            totals["errors"] += r.errors
    return out


def pre_totals(requests: list[Request]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in requests:
        if START - timedelta(days=PRE_DAYS) <= r.day < START:
            totals = out.setdefault(r.user, {"requests": 0, "impressions": 0, "clicks": 0, "errors": 0})
            totals["requests"] += 1
            totals["impressions"] += r.impressions
            totals["clicks"] += r.clicks
            totals["errors"] += r.errors
    return out


def delta_ratio(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ratio of means and its delta-method variance (Deng et al. 2018, eq. for X̄/Ȳ)."""
    n = len(x)
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    cxy = np.cov(x, y, ddof=1)[0, 1]
    return mx / my, (vx / my**2 - 2 * mx * cxy / my**3 + mx**2 * vy / my**4) / n


def expected_row(requests: list[Request], experiment_id: str, metric: str, first: date, last: date) -> dict:
    units = unit_totals(requests, experiment_id, first, last)
    numerator, denominator = RATIOS[metric]
    arms = {}
    for bucket in ("control", "treatment"):
        x = np.array([u[numerator] for u in units[bucket].values()], dtype=float)
        y = np.array([u[denominator] for u in units[bucket].values()], dtype=float)
        arms[bucket] = (x, y, *delta_ratio(x, y))
    (_, _, rc, vc), (_, _, rt, vt) = arms["control"], arms["treatment"]
    lift, se = rt - rc, np.sqrt(vt + vc)
    z975 = stats.norm.ppf(0.975)
    counts = [len(units["control"]), len(units["treatment"])]
    return {
        "control_units": counts[0], "treatment_units": counts[1], "control_value": rc, "treatment_value": rt,
        "absolute_lift": lift, "relative_lift": lift / rc, "ci_low": lift - z975 * se, "ci_high": lift + z975 * se,
        "p_value": 2 * stats.norm.sf(abs(lift / se)),
        "srm_p_value": stats.chisquare(counts, f_exp=[sum(counts) / 2] * 2).pvalue,
        "units": units,
    }


def expected_cuped(requests: list[Request], metric: str, first: date, last: date) -> tuple[float, float, float]:
    """(CUPED lift, CI low, CI high) from linearised per-user values: l = (x − R·y)/ȳ, the same for the pre-period."""
    units = unit_totals(requests, "exp-lift", first, last)
    pre = pre_totals(requests)
    numerator, denominator = RATIOS[metric]
    empty = {"requests": 0, "impressions": 0, "clicks": 0, "errors": 0}
    lift = pre_lift = variance = pre_variance = covariance = 0.0
    for bucket, sign in (("treatment", 1), ("control", -1)):
        users = list(units[bucket])
        x = np.array([units[bucket][u][numerator] for u in users], dtype=float)
        y = np.array([units[bucket][u][denominator] for u in users], dtype=float)
        xp = np.array([pre.get(u, empty)[numerator] for u in users], dtype=float)
        yp = np.array([pre.get(u, empty)[denominator] for u in users], dtype=float)
        ratio, pre_ratio = x.sum() / y.sum(), xp.sum() / yp.sum()
        linear, pre_linear = (x - ratio * y) / y.mean(), (xp - pre_ratio * yp) / yp.mean()
        n = len(users)
        lift += sign * ratio
        pre_lift += sign * pre_ratio
        variance += linear.var(ddof=1) / n
        pre_variance += pre_linear.var(ddof=1) / n
        covariance += np.cov(linear, pre_linear, ddof=1)[0, 1] / n
    theta = covariance / pre_variance
    adjusted = lift - theta * pre_lift
    se = np.sqrt(variance - 2 * theta * covariance + theta**2 * pre_variance)
    z975 = stats.norm.ppf(0.975)
    return adjusted, adjusted - z975 * se, adjusted + z975 * se


COMPARED = ["control_units", "treatment_units", "control_value", "treatment_value", "absolute_lift", "relative_lift",
            "ci_low", "ci_high", "p_value", "srm_p_value"]


@pytest.mark.parametrize("experiment_id", ["exp-lift", "exp-split"])
@pytest.mark.parametrize("metric", sorted(RATIOS))
def test_ratio_metrics_equal_an_independent_computation(readout, experiment_id, metric):
    requests, rows = readout
    for grain, week_start, first, last in periods():
        got = rows[(experiment_id, "treatment", metric, grain, week_start)]
        want = expected_row(requests, experiment_id, metric, first, last)
        for column in COMPARED:
            assert got[column] == pytest.approx(want[column], rel=1e-9, abs=1e-15), (grain, week_start, column)
        assert got["test"] == "delta_method_z"
        assert got["randomization_unit"] == "user"


def test_injected_lift_is_found(readout):
    _, rows = readout
    got = rows[("exp-lift", "treatment", "ctr", "cumulative", START + timedelta(days=7))]
    assert got["is_significant"] and got["is_primary"]
    assert 0.15 < got["relative_lift"] < 0.45  # injected: × 1.3
    assert got["ci_low"] > 0
    assert not got["is_srm_flagged"] and got["readout_note"] is None


def test_broken_split_is_flagged(readout):
    _, rows = readout
    for grain, week_start, *_ in periods():
        got = rows[("exp-split", "treatment", "ctr", grain, week_start)]
        assert got["srm_p_value"] < 0.001 and got["is_srm_flagged"]
        assert "sample ratio mismatch" in got["readout_note"]
    lift_rows = [r for k, r in rows.items() if k[0] == "exp-lift"]
    assert lift_rows and not any(r["is_srm_flagged"] for r in lift_rows)


@pytest.mark.parametrize("metric", ["ctr", "impressions_per_request"])
def test_cuped_interval_equals_an_independent_computation(readout, metric):
    requests, rows = readout
    for grain, week_start, first, last in periods():
        got = rows[("exp-lift", "treatment", metric, grain, week_start)]
        lift, low, high = expected_cuped(requests, metric, first, last)
        assert got["cuped_absolute_lift"] == pytest.approx(lift, rel=1e-9)
        assert got["cuped_ci_low"] == pytest.approx(low, rel=1e-9)
        assert got["cuped_ci_high"] == pytest.approx(high, rel=1e-9)
    # the pre-period explains part of the variance: the adjusted interval is narrower
    assert got["cuped_ci_high"] - got["cuped_ci_low"] < got["ci_high"] - got["ci_low"]


def test_no_cuped_without_a_pre_period(readout):
    _, rows = readout
    split = [r for k, r in rows.items() if k[0] == "exp-split"]
    assert split and all(r["cuped_absolute_lift"] is None for r in split)


def test_undeclared_experiment_has_no_control_and_no_statistics(readout):
    _, rows = readout
    prior = [r for k, r in rows.items() if k[0] == "exp-prior"]
    assert {r["treatment_bucket"] for r in prior} == {"all"}
    for r in prior:
        assert r["control_bucket"] is None and r["control_value"] is None
        assert r["absolute_lift"] is None and r["p_value"] is None and r["srm_p_value"] is None
        assert "not declared" in r["readout_note"]
        assert r["treatment_units"] > 0


def test_guardrails_and_trend(readout):
    _, rows = readout
    second = START + timedelta(days=7)
    errors = rows[("exp-lift", "treatment", "error_rate", "week", second)]
    assert errors["guardrail_bad_direction"] == "increase"
    assert errors["guardrail_breached"] == (errors["p_value"] < 0.05 and errors["absolute_lift"] > 0)
    ctr = rows[("exp-lift", "treatment", "ctr", "week", second)]
    assert ctr["guardrail_bad_direction"] is None and ctr["guardrail_breached"] is False
    first = rows[("exp-lift", "treatment", "ctr", "week", START)]
    assert first["previous_relative_lift"] is None
    assert ctr["previous_relative_lift"] == pytest.approx(first["relative_lift"], rel=1e-12)


def percentile_with_error(values: list[float], fraction: Fraction) -> tuple[float, float]:
    """Linear-interpolation percentile (numpy's default, = quantile_cont) and its standard error from the
    distribution-free 95 % interval: order statistics of ranks n·p ∓ 1.96·√(n·p·(1 − p)) (1-based)."""
    ordered = sorted(values)
    n = len(ordered)
    z975 = stats.norm.ppf(0.975)
    centre = float(n * fraction)
    half = z975 * math.sqrt(float(n * fraction * (1 - fraction)))
    high = min(n, math.ceil(centre + half))
    low = max(1, math.floor(centre - half))
    return float(np.quantile(ordered, float(fraction))), (ordered[high - 1] - ordered[low - 1]) / (2 * z975)


@pytest.mark.parametrize("metric, fraction", [("latency_p50_ms", Fraction(1, 2)), ("latency_p95_ms", Fraction(95, 100))])
def test_latency_percentiles_equal_an_independent_computation(readout, metric, fraction):
    requests, rows = readout
    z975 = stats.norm.ppf(0.975)
    for grain, week_start, first, last in periods():
        got = rows[("exp-lift", "treatment", metric, grain, week_start)]
        arms = {}
        for bucket in ("control", "treatment"):
            latencies = [r.latency_ms for r in requests
                         if r.experiment_id == "exp-lift" and r.bucket == bucket and first <= r.day <= last]
            arms[bucket] = percentile_with_error(latencies, fraction)
        lift = arms["treatment"][0] - arms["control"][0]
        se = math.hypot(arms["treatment"][1], arms["control"][1])
        assert got["test"] == "order_statistic_z"
        assert got["control_value"] == pytest.approx(arms["control"][0], rel=1e-12)
        assert got["treatment_value"] == pytest.approx(arms["treatment"][0], rel=1e-12)
        assert got["ci_low"] == pytest.approx(lift - z975 * se, rel=1e-9)
        assert got["ci_high"] == pytest.approx(lift + z975 * se, rel=1e-9)
        assert got["p_value"] == pytest.approx(2 * stats.norm.sf(abs(lift / se)), rel=1e-9)
        # latency is a guardrail of exp-lift for p95 (bad: increase); the treatment is 10 % slower
        if metric == "latency_p95_ms":
            assert got["guardrail_breached"] == (got["p_value"] < 0.05 and lift > 0)
