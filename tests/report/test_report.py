"""``telemetry report``: one static page with charts per family, 'no data yet' where a family has no marts, no
network; in headless Chromium every chart is drawn (its screenshot region is not blank)."""

from __future__ import annotations

import io
import re

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from PIL import Image

from chromium import Chromium, page_url
from ingest.cli import main
from ingest.report import DESIGN_FAMILIES, build_report

pytestmark = [pytest.mark.dbt]


@pytest.fixture(scope="module")
def report(built):
    return build_report(built.data_dir)


def test_recsys_has_every_chart_and_other_families_say_no_data_yet(report):
    sections = {s.family: s for s in report.sections}
    assert list(sections)[: 1 + len(DESIGN_FAMILIES)] == ["all", *DESIGN_FAMILIES]
    assert {c.key for c in sections["recsys"].charts if c.rendered} == {
        "recsys-volume", "recsys-dau", "recsys-ctr", "recsys-quarantine"}
    assert all(c.rendered for c in sections["all"].charts)
    for family in ("politics", "ability", "gameplay", "learning"):
        charts = sections[family].charts
        assert charts and not any(c.rendered for c in charts)
        assert all(c.note.startswith("no data yet") for c in charts)
    assert "ability-alerts" in {c.key for c in sections["ability"].charts}
    page = report.path.read_text()
    assert page.count('<figure class="chart"') == sum(c.rendered for c in report.charts)
    assert page.count('class="chart-empty"') == sum(not c.rendered for c in report.charts)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page), "nothing loads from the network"
    assert "<script" not in page


def test_chart_numbers_match_the_lake(report, built):
    charts = {c.key: c for c in report.charts}
    with duckdb.connect() as con:
        events = f"{built.data_dir}/lake/events/event_type=recsys_*/*/*.parquet"
        dau = con.sql(f"select event_date, count(distinct player_key) as dau from read_parquet('{events}', "
                      "hive_partitioning = true) where player_key is not null group by 1 order by 1").pl()
        landed = con.sql(f"select event_type, count(*) as n from read_parquet('{events}', hive_partitioning = true) "
                         "group by 1 order by 1").pl()
    assert charts["recsys-dau"].data.select("event_date", pl.col("dau").cast(pl.Int64)).equals(
        dau.with_columns(pl.col("dau").cast(pl.Int64)))
    volume = charts["recsys-volume"].data.group_by("event_type").agg(pl.col("landed").sum()).sort("event_type")
    assert volume["landed"].to_list() == landed["n"].to_list()
    ctr = charts["recsys-ctr"].data
    assert set(ctr["bucket"]) == {"control", "treatment"} and ctr["ctr"].is_between(0, 1).all()
    quarantine = charts["all-quarantine"].data
    assert quarantine["lines"].sum() == built.quarantined == 2


def test_report_command(built):
    result = CliRunner().invoke(main, ["report", "--data-dir", str(built.data_dir)])
    assert result.exit_code == 0, result.output
    assert "report:" in result.output and "no data yet for politics" in result.output


def _blank(region: Image.Image) -> bool:
    colors = region.getcolors(1 << 20) or []
    background = max(colors)[1] if colors else None
    drawn = sum(n for n, color in colors if color != background) / max(region.width * region.height, 1)
    return len(colors) < 8 or drawn < 0.02


@pytest.mark.browser
def test_every_chart_renders_in_headless_chromium(report, chromium_path):
    with Chromium(chromium_path) as browser:
        browser.open(page_url(report.path))
        boxes = browser.evaluate("""Array.from(document.querySelectorAll('figure.chart img')).map(img => {
            const r = img.getBoundingClientRect();
            return {key: img.closest('figure').dataset.chart, x: r.left + scrollX, y: r.top + scrollY,
                    w: r.width, h: r.height, decoded: img.complete && img.naturalWidth > 0};
        })""")
        empty = browser.evaluate("Array.from(document.querySelectorAll('.chart-empty')).map(e => e.dataset.chart)")
        png = browser.screenshot()
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    assert sorted(b["key"] for b in boxes) == sorted(c.key for c in report.charts if c.rendered)
    assert sorted(empty) == sorted(c.key for c in report.charts if not c.rendered)
    for box in boxes:
        assert box["decoded"] and box["w"] > 300 and box["h"] > 150, box
        region = shot.crop((int(box["x"]), int(box["y"]), int(box["x"] + box["w"]), int(box["y"] + box["h"])))
        assert region.height > 150 and not _blank(region), f"chart {box['key']} is blank in the screenshot"
    # the check itself can fail: a white strip of the page is blank
    assert _blank(shot.crop((0, shot.height - 10, 200, shot.height)).convert("RGB"))
