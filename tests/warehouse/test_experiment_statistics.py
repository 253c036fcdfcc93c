"""The statistics macros of the experiment readout (macros/experiment_statistics.sql) evaluated in DuckDB.

One `dbt compile --inline` renders every macro over a grid of arguments; DuckDB runs the SQL here. Expected
values: hand-computed closed forms (Φ(0) = 1/2, Φ(1.959964) = 0.975, chi-square df = 2 is exp(−x/2), df = 1
at x = 3.841459 is 0.05) and scipy.special / scipy.stats, to 1e-12 relative (the readout tests need 1e-9).
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from scipy import special, stats

from support import PARSED
from ingest.warehouse.dbt import invoke_dbt

pytestmark = [pytest.mark.dbt]

REPO = Path(__file__).resolve().parents[2]
ERFC_POINTS = [0.0, 1e-10, 0.1, 0.3, 0.46875, 0.5, 1.0, 2.0, 3.5, 4.0, 4.5, 6.0, 10.0, 20.0, 26.0]
Z_POINTS = [-8.0, -3.0, -1.959963984540054, -0.5, 0.0, 0.25, 1.0, 1.959963984540054, 2.5, 5.0, 12.0]
CHI_POINTS = [(x, df) for df in range(1, 8) for x in (0.0, 0.01, 0.5, 1.0, 3.841458820694124, 7.5, 20.0, 90.0)]


def _values(rows: list[float]) -> str:
    return ", ".join(f"({n}, {value!r})" for n, value in enumerate(rows))


@pytest.fixture(scope="module")
def evaluated(warehouses, tmp_path_factory) -> dict[str, list[float]]:
    work = tmp_path_factory.mktemp("statistics")
    parsed = warehouses.get(PARSED).data_dir
    inline = (
        f"select 'erfc' as fn, n, {{{{ erfc_nonnegative('x') }}}} as v "
        f"from (values {_values(ERFC_POINTS)}) t(n, x) "
        f"union all select 'cdf', n, {{{{ normal_cdf('x') }}}} from (values {_values(Z_POINTS)}) t(n, x) "
        f"union all select 'p', n, {{{{ two_sided_p_value('x') }}}} from (values {_values(Z_POINTS)}) t(n, x) "
        "union all select 'chi', n, {{ chi_square_sf('x', 'df') }} from (values "
        + ", ".join(f"({n}, {x!r}, {df})" for n, (x, df) in enumerate(CHI_POINTS)) + ") t(n, x, df) "
        "order by fn, n"
    )
    done = invoke_dbt(["compile", "--quiet", "--inline", inline], parsed, target_path=work / "target",
                      log_path=work / "logs", capture=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = duckdb.sql(done.stdout).fetchall()
    out: dict[str, list[float]] = {}
    for fn, _n, value in rows:
        out.setdefault(fn, []).append(value)
    return out


def test_erfc_matches_scipy_to_full_precision(evaluated):
    expected = [float(special.erfc(x)) for x in ERFC_POINTS]
    assert evaluated["erfc"] == pytest.approx(expected, rel=1e-13, abs=0)


def test_erfc_hand_values(evaluated):
    got = dict(zip(ERFC_POINTS, evaluated["erfc"]))
    assert got[0.0] == 1.0
    assert got[1.0] == pytest.approx(0.157299207050285130658779364917, rel=1e-14)  # erfc(1), tables
    assert got[26.0] == pytest.approx(5.663192408856142e-296, rel=1e-12)  # deep tail keeps its digits


def test_normal_cdf(evaluated):
    got = dict(zip(Z_POINTS, evaluated["cdf"]))
    assert got[0.0] == 0.5
    assert got[1.959963984540054] == pytest.approx(0.975, rel=1e-14)
    assert got[-1.959963984540054] == pytest.approx(0.025, rel=1e-13)
    assert evaluated["cdf"] == pytest.approx([float(stats.norm.cdf(z)) for z in Z_POINTS], rel=1e-13)


def test_two_sided_p_value(evaluated):
    got = dict(zip(Z_POINTS, evaluated["p"]))
    assert got[0.0] == 1.0
    assert got[1.959963984540054] == pytest.approx(0.05, rel=1e-13)
    assert got[-1.959963984540054] == got[1.959963984540054]
    assert evaluated["p"] == pytest.approx([float(2 * stats.norm.sf(abs(z))) for z in Z_POINTS], rel=1e-12)


def test_chi_square_survival(evaluated):
    got = {point: value for point, value in zip(CHI_POINTS, evaluated["chi"])}
    assert got[(3.841458820694124, 1)] == pytest.approx(0.05, rel=1e-12)  # the 95 % critical value, df = 1
    for x in (0.5, 7.5, 20.0):
        assert got[(x, 2)] == pytest.approx(math.exp(-x / 2), rel=1e-14)  # df = 2: exp(−x/2)
        assert got[(x, 4)] == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-14)
    assert got[(0.0, 3)] == 1.0
    assert evaluated["chi"] == pytest.approx([float(stats.chi2.sf(x, df)) for x, df in CHI_POINTS], rel=1e-12)
