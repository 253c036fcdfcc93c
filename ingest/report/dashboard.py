"""``telemetry report``: a static HTML dashboard of the warehouse, readable with no network.

One page, ``<data_dir>/report/index.html``, with an overview (events landed per family, quarantine by reason
over all lines, the latest data-quality run) and one section per family (the five of docs/requirements/README.md#families plus any other in
the registry) with its charts:

==========================  ==========================================================================
volume by event type        ``dq_ingest_daily``: landed events per day per event type of the family
DAU                         distinct ``player_key`` per day: from a player-day activity mart with a
                            ``<family>_events`` column, else a fact mart of the family with (event_date,
                            player_key), else the family's lake events
CTR by bucket               a family mart with (event_date, bucket, impressions, clicks): clicks ÷
                            impressions per day per bucket (summed over the mart's other columns, e.g.
                            experiments)
experiment readout          ``fct_recsys_experiment_results``: cumulative relative lift of each experiment's
                            primary metric per treatment bucket and week (lift, 95 % CI, p, SRM in the data)
KPI alerts                  a family mart whose name contains ``alert``: alerts per day by KPI/rule/severity
quarantine rate by reason   ``dq_ingest_daily``: quarantined ÷ (landed + quarantined) per reason code
==========================  ==========================================================================

Everything is discovered, nothing is listed: marts come from ``marts/_catalog.json`` (their dbt folder says
which family they belong to) or their names, so a family's charts appear as soon as its marts are published;
until then its charts say "no data yet". CTR applies to recsys and KPI alerts to ability
(docs/requirements/recsys.md#rollups, docs/requirements/ability.md#alerts) and
to any family that has such marts.

Charts are drawn with matplotlib (Agg, no pyplot state) and embedded as base64 PNG ``<img>`` in
``<figure class="chart">``; the page has inline CSS, no JavaScript and no external URL. It reads the published
marts (and, for DAU, the lake), never ``warehouse.duckdb``, so it renders while a build holds the lock.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from string import Template

import duckdb
import polars as pl

from ..registry.schema import Registry
from ..config import SCHEMAS_DIR, default_data_dir
from ..lake.atomic import write_text_atomic
from ..warehouse.publish import CATALOG_FILE, marts_path
from ..warehouse.read import marts, read

DESIGN_FAMILIES = ("politics", "ability", "gameplay", "recsys", "learning")
"""The five event families of docs/requirements/README.md#families, in its order; registry families not listed here follow."""
FAMILY_TITLES = {"politics": "Politics (docs/requirements/politics.md)", "ability": "Ability metrics (docs/requirements/ability.md)",
                 "gameplay": "Gameplay (docs/requirements/gameplay.md)", "recsys": "Recsys experiments (docs/requirements/recsys.md)",
                 "learning": "Learning (docs/requirements/learning.md)"}
CTR_FAMILIES = ("recsys",)
ALERT_FAMILIES = ("ability",)
ALERT_CATEGORY_COLUMNS = ("kpi", "kpi_name", "metric", "metric_name", "rule", "rule_id", "alert_type", "severity")
TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html"
NO_DATA = "no data yet"


@dataclass
class Chart:
    """One chart slot: a rendered PNG, or a reason it is empty.

    Attributes:
        key: stable id, ``<family>-<kind>`` (``recsys-ctr``); the HTML ``data-chart`` attribute.
        title: caption.
        png: the image, or None when there is nothing to draw.
        note: where the numbers come from, or why the slot is empty.
        data: the numbers drawn (one row per point or bar), or None.
    """

    key: str
    title: str
    png: bytes | None = None
    note: str = ""
    data: pl.DataFrame | None = None

    @property
    def rendered(self) -> bool:
        return self.png is not None


@dataclass
class Section:
    family: str
    title: str
    charts: list[Chart] = field(default_factory=list)


@dataclass
class ReportResult:
    """What :func:`build_report` wrote: the page and its sections (charts with ``rendered`` or a note)."""

    path: Path
    sections: list[Section]

    @property
    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]


# --- data -----------------------------------------------------------------------------------------------------
class _Marts:
    """The published marts of one data directory, with the family each belongs to."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.names = marts(data_dir)
        try:
            catalog = json.loads((marts_path(data_dir) / CATALOG_FILE).read_text(encoding="utf-8"))["marts"]
        except (OSError, ValueError, KeyError):
            catalog = {}
        self.domain = {name: catalog.get(name, {}).get("domain", "") for name in self.names}
        self._frames: dict[str, pl.DataFrame] = {}

    def frame(self, name: str) -> pl.DataFrame | None:
        if name not in self.names:
            return None
        if name not in self._frames:
            self._frames[name] = read(name, self.data_dir)
        return self._frames[name]

    def of_family(self, family: str) -> list[str]:
        return [n for n in self.names if self.domain.get(n) == family
                or (not self.domain.get(n) and f"_{family}_" in f"_{n}_")]


def _ingest_daily(source: _Marts, family: str | None) -> pl.DataFrame | None:
    frame = source.frame("dq_ingest_daily")
    if frame is None or frame.is_empty():
        return None
    if family is not None:
        frame = frame.filter(pl.col("event_type").str.starts_with(f"{family}_"))
    return None if frame.is_empty() else frame


# --- drawing --------------------------------------------------------------------------------------------------
def _figure(width: float = 11.0, height: float = 3.6):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.set_layout_engine("constrained")
    return figure, figure.add_subplot()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def with_gaps(dates: list, values: list) -> tuple[list, list[float]]:
    """``(dates, values)`` with a NaN point inserted the day after each run of consecutive days that the next
    observed day does not follow, so a line breaks across days without data instead of bridging them. Dates
    ascending (``datetime.date``); values numbers or None (drawn as NaN). Non-date x values pass through."""
    from datetime import date as date_type, timedelta

    xs: list = []
    ys: list[float] = []
    for index, (day, value) in enumerate(zip(dates, values)):
        xs.append(day)
        ys.append(float("nan") if value is None else float(value))
        following = dates[index + 1] if index + 1 < len(dates) else None
        if isinstance(day, date_type) and following is not None and (following - day).days > 1:
            xs.append(day + timedelta(days=1))
            ys.append(float("nan"))
    return xs, ys


def _lines(frame: pl.DataFrame, x: str, y: str, series: str | None, ylabel: str, percent: bool = False) -> bytes:
    figure, axes = _figure()
    groups = frame.partition_by(series, as_dict=True, maintain_order=True) if series else {("all",): frame}
    for key, group in sorted(groups.items(), key=lambda item: str(item[0])):
        group = group.sort(x)
        label = str(key[0] if isinstance(key, tuple) else key)
        values = group[y].to_list()
        if percent:
            values = [None if v is None else 100 * v for v in values]
        xs, ys = with_gaps(group[x].to_list(), values)
        axes.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, label=label)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    days = sorted(set(frame[x].drop_nulls().to_list()))
    if frame.schema[x] == pl.Date:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter

        if len(days) <= 10:  # one tick per day, no hours
            axes.set_xticks(days)
            axes.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        else:
            locator = AutoDateLocator()
            axes.xaxis.set_major_locator(locator)
            axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    if series and len(groups) > 1:
        axes.legend(fontsize=7, ncols=2 if len(groups) > 6 else 1)
    return _png(figure)


def _bars(labels: list[str], values: list[float], xlabel: str) -> bytes:
    figure, axes = _figure(11.0, max(2.0, 0.32 * len(labels) + 0.9))
    axes.barh(labels, values, color="#cf6a32")
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.grid(True, axis="x", alpha=0.3)
    for index, value in enumerate(values):
        axes.text(value, index, f" {value:.2f}", va="center", fontsize=7)
    if not any(values):
        axes.set_xlim(0, 1)
        axes.set_title("no quarantined lines", fontsize=9)
    return _png(figure)


# --- charts ---------------------------------------------------------------------------------------------------
def volume_chart(source: _Marts, family: str) -> Chart:
    chart = Chart(f"{family}-volume", "Events landed per day, by event type")
    frame = _ingest_daily(source, family)
    if frame is None or frame["landed"].sum() == 0:
        chart.note = f"{NO_DATA}: dq_ingest_daily has no landed {family} events"
        return chart
    daily = frame.group_by("event_date", "event_type").agg(pl.col("landed").sum()).sort("event_date", "event_type")
    chart.data = daily
    chart.png = _lines(daily, "event_date", "landed", "event_type", "events landed")
    chart.note = "source: dq_ingest_daily"
    return chart


def dau_chart(source: _Marts, family: str, data_dir: Path) -> Chart:
    chart = Chart(f"{family}-dau", "Daily active players (distinct player_key per UTC day)")
    activity = f"{family}_events"
    for name in source.names:  # a player-day activity mart (docs/requirements/design.md#incremental), e.g. fct_player_daily_activity
        frame = source.frame(name)
        day = next((c for c in ("activity_date", "event_date") if frame is not None and c in frame.columns), None)
        if day and {"player_key", activity} <= set(frame.columns):
            daily = (frame.filter(pl.col("player_key").is_not_null() & (pl.col(activity) > 0))
                     .group_by(day).agg(pl.col("player_key").n_unique().alias("dau")).rename({day: "event_date"}))
            if not daily.is_empty():
                chart.data = daily.sort("event_date")
                chart.png = _lines(daily, "event_date", "dau", None, "players")
                chart.note = f"source: {name} (players with {activity} > 0)"
                return chart
    for name in source.of_family(family):
        frame = source.frame(name)
        if name.startswith("fct_") and frame is not None and {"event_date", "player_key"} <= set(frame.columns):
            daily = (frame.filter(pl.col("player_key").is_not_null()).group_by("event_date")
                     .agg(pl.col("player_key").n_unique().alias("dau")))
            if not daily.is_empty():
                chart.data = daily.sort("event_date")
                chart.png = _lines(daily, "event_date", "dau", None, "players")
                chart.note = f"source: {name}"
                return chart
    events = data_dir / "lake" / "events"
    if any(events.glob(f"event_type={family}_*/event_date=*/*.parquet")):
        pattern = str(events / f"event_type={family}_*" / "*" / "*.parquet").replace("'", "''")
        with duckdb.connect() as con:
            daily = con.sql(f"""
                select event_date, count(distinct player_key) as dau
                from read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)
                where player_key is not null
                group by event_date
            """).pl()
        if not daily.is_empty():
            chart.data = daily.sort("event_date")
            chart.png = _lines(daily, "event_date", "dau", None, "players")
            chart.note = "source: the lake (no published fact mart with player_key yet)"
            return chart
    chart.note = f"{NO_DATA}: no {family} events with a player"
    return chart


def funnel_chart(source: _Marts) -> Chart:
    """Onboarding funnel over every activation cohort: activated → first combat → first combat win (7 days)."""
    chart = Chart("gameplay-funnel", "Onboarding funnel: players reaching each step within 7 days of activation")
    frame = source.frame("agg_onboarding_funnel")
    if frame is None or frame.is_empty() or frame["activated_players"].sum() == 0:
        chart.note = f"{NO_DATA}: agg_onboarding_funnel has no activated players"
        return chart
    steps = ["activated_players", "first_combat_players", "first_combat_win_players"]
    totals = frame.select(pl.col(steps).sum())
    chart.data = totals
    counts = [float(totals[step][0]) for step in steps]
    chart.png = _bars(["first session", "first combat", "first combat win"], counts, "players")
    chart.note = "source: agg_onboarding_funnel (summed over activation days)"
    return chart


def combat_success_chart(source: _Marts) -> Chart:
    """Combat success rate (wins ÷ engagements) per UTC day and encounter tier."""
    chart = Chart("gameplay-combat", "Combat success rate by encounter tier (wins ÷ engagements per UTC day)")
    frame = source.frame("agg_gameplay_combat_daily")
    if frame is None or frame.is_empty():
        chart.note = f"{NO_DATA}: agg_gameplay_combat_daily is empty"
        return chart
    daily = (frame.group_by("event_date", "encounter_tier")
             .agg(pl.col("wins").sum(), pl.col("engagements").sum())
             .with_columns((pl.col("wins") / pl.col("engagements")).alias("combat_success_rate"))
             .sort("event_date", "encounter_tier"))
    chart.data = daily
    chart.png = _lines(daily, "event_date", "combat_success_rate", "encounter_tier", "success rate (%)", percent=True)
    chart.note = "source: agg_gameplay_combat_daily"
    return chart


def xp_velocity_chart(source: _Marts) -> Chart:
    """XP velocity: XP gained per active hour of play, per UTC day."""
    chart = Chart("gameplay-xp", "XP velocity (XP gained ÷ active hours per UTC day)")
    frame = source.frame("agg_gameplay_xp_velocity_daily")
    if frame is None or frame.is_empty() or frame["active_hours"].sum() == 0:
        chart.note = f"{NO_DATA}: agg_gameplay_xp_velocity_daily has no active hours"
        return chart
    daily = (frame.group_by("event_date").agg(pl.col("xp_gained").sum(), pl.col("active_hours").sum())
             .filter(pl.col("active_hours") > 0)
             .with_columns((pl.col("xp_gained") / pl.col("active_hours")).alias("xp_per_active_hour"))
             .sort("event_date"))
    chart.data = daily
    chart.png = _lines(daily, "event_date", "xp_per_active_hour", None, "XP per active hour")
    chart.note = "source: agg_gameplay_xp_velocity_daily"
    return chart


def ctr_chart(source: _Marts, family: str) -> Chart:
    chart = Chart(f"{family}-ctr", "CTR by bucket (clicks ÷ impressions per UTC day)")
    needed = {"event_date", "bucket", "impressions", "clicks"}
    for name in sorted(source.of_family(family), key=lambda n: (not n.endswith("_daily"), n)):
        frame = source.frame(name)
        if frame is None or not needed <= set(frame.columns) or frame.is_empty():
            continue
        daily = (frame.group_by("event_date", "bucket")
                 .agg(pl.col("clicks").sum(), pl.col("impressions").sum())
                 .with_columns((pl.col("clicks") / pl.col("impressions")).alias("ctr"))
                 .filter(pl.col("impressions") > 0))
        if not daily.is_empty():
            chart.data = daily.sort("event_date", "bucket")
            chart.png = _lines(daily, "event_date", "ctr", "bucket", "CTR (%)", percent=True)
            chart.note = f"source: {name}"
            return chart
    chart.note = f"{NO_DATA}: no published {family} mart with event_date, bucket, impressions and clicks"
    return chart


def experiment_chart(source: _Marts, family: str) -> Chart:
    """Cumulative relative lift of every declared experiment's primary metric, per treatment bucket and week."""
    chart = Chart(f"{family}-experiments", "Experiment readout: cumulative relative lift of the primary metric (%)")
    frame = source.frame("fct_recsys_experiment_results")
    if frame is None or frame.is_empty():
        chart.note = f"{NO_DATA}: fct_recsys_experiment_results is not published or empty"
        return chart
    readout = (frame.filter((pl.col("period_grain") == "cumulative") & pl.col("is_primary").fill_null(False)
                            & pl.col("relative_lift").is_not_null())
               .with_columns(pl.format("{} {} vs {}", "experiment_id", "treatment_bucket", "control_bucket")
                             .alias("comparison"))
               .select("week_start", "comparison", "metric", "relative_lift", "absolute_lift", "ci_low", "ci_high",
                       "p_value", "srm_p_value", "is_srm_flagged")
               .sort("week_start", "comparison"))
    if readout.is_empty():
        chart.note = f"{NO_DATA}: no declared experiment with a control and a treatment has a lift yet"
        return chart
    chart.data = readout
    chart.png = _lines(readout, "week_start", "relative_lift", "comparison", "relative lift (%)", percent=True)
    latest = readout.group_by("comparison").agg(pl.all().sort_by("week_start").last()).sort("comparison")
    parts = [f"{r['comparison']} ({r['metric']}): {100 * r['relative_lift']:+.1f} %"
             + (f", p = {r['p_value']:.3g}" if r["p_value"] is not None else ", no p-value")
             + (", SRM: split broken, do not trust the lift" if r["is_srm_flagged"] else "")
             for r in latest.iter_rows(named=True)]
    chart.note = "source: fct_recsys_experiment_results (cumulative rows); latest: " + "; ".join(parts)
    return chart


def alerts_chart(source: _Marts, family: str) -> Chart:
    chart = Chart(f"{family}-alerts", "KPI alerts per day")
    for name in source.of_family(family):
        if "alert" not in name:
            continue
        frame = source.frame(name)
        if frame is None:
            continue
        dates = [c for c, t in frame.schema.items() if t == pl.Date]
        if not dates:
            continue
        date = "event_date" if "event_date" in dates else dates[0]
        category = next((c for c in ALERT_CATEGORY_COLUMNS if c in frame.columns), None)
        if frame.is_empty():
            chart.note = f"{NO_DATA}: {name} has no alerts"
            return chart
        keys = [date, category] if category else [date]
        daily = frame.group_by(keys).agg(pl.len().alias("alerts")).sort(keys)
        chart.data = daily
        chart.png = _lines(daily, date, "alerts", category, "alerts")
        chart.note = f"source: {name}" + (f", by {category}" if category else "")
        return chart
    chart.note = f"{NO_DATA}: no published {family} alert mart"
    return chart


def quarantine_chart(source: _Marts, family: str | None) -> Chart:
    scope = family or "all"
    chart = Chart(f"{scope}-quarantine", "Quarantine rate by reason (% of lines read)")
    frame = _ingest_daily(source, family)
    if frame is None:
        chart.note = f"{NO_DATA}: dq_ingest_daily has no {family or ''} rows".replace("  ", " ")
        return chart
    reasons = [c for c in frame.columns if c.startswith("quarantined_") and c != "quarantined_invalid"]
    total = int(frame["landed"].sum()) + int(frame["quarantined"].sum())
    rates = {c.removeprefix("quarantined_"): 100 * int(frame[c].sum()) / total if total else 0.0 for c in reasons}
    chart.data = pl.DataFrame({"reason": list(rates), "rate_percent": list(rates.values()),
                               "lines": [int(frame[f"quarantined_{r}"].sum()) for r in rates]})
    chart.png = _bars(list(rates), list(rates.values()), "% of lines read (landed + quarantined)")
    chart.note = f"source: dq_ingest_daily ({int(frame['quarantined'].sum())} quarantined of {total})"
    return chart


def family_volume_chart(source: _Marts) -> Chart:
    chart = Chart("all-volume", "Events landed per day, by family")
    frame = _ingest_daily(source, None)
    if frame is None or frame["landed"].sum() == 0:
        chart.note = f"{NO_DATA}: dq_ingest_daily has no landed events"
        return chart
    daily = (frame.filter(pl.col("event_type") != "(unknown)")
             .with_columns(pl.col("event_type").str.split("_").list.first().alias("family"))
             .group_by("event_date", "family").agg(pl.col("landed").sum()).sort("event_date", "family"))
    chart.data = daily
    chart.png = _lines(daily, "event_date", "landed", "family", "events landed")
    chart.note = "source: dq_ingest_daily"
    return chart


# --- page -----------------------------------------------------------------------------------------------------
def _families(registry: Registry | None) -> list[str]:
    extra = sorted(set(registry.families) - set(DESIGN_FAMILIES)) if registry else []
    return [*DESIGN_FAMILIES, *extra]


def build_sections(data_dir: Path, registry: Registry | None = None) -> list[Section]:
    """Every section of the dashboard with its charts drawn (or their 'no data yet' notes)."""
    source = _Marts(data_dir)
    sections = [Section("all", "Overview: all families", [family_volume_chart(source), quarantine_chart(source, None)])]
    for family in _families(registry):
        charts = [volume_chart(source, family), dau_chart(source, family, data_dir)]
        if family in CTR_FAMILIES:
            charts.append(ctr_chart(source, family))
            charts.append(experiment_chart(source, family))
        if family == "gameplay":
            charts += [funnel_chart(source), combat_success_chart(source), xp_velocity_chart(source)]
        if family in ALERT_FAMILIES or any("alert" in n for n in source.of_family(family)):
            charts.append(alerts_chart(source, family))
        charts.append(quarantine_chart(source, family))
        sections.append(Section(family, FAMILY_TITLES.get(family, family), charts))
    return sections


def _dq_block(data_dir: Path, page_dir: Path) -> str:
    path = data_dir / "dq" / "summary.json"
    if not path.exists():
        return "<p class='note'>No data-quality run yet: <code>telemetry dq run</code>.</p>"
    summary = json.loads(path.read_text(encoding="utf-8"))
    stats = summary["statistics"]
    docs = Path(summary["data_docs"])
    link = os.path.relpath(docs, page_dir) if docs.exists() else None
    failed = [f"{html.escape(v['asset'])}: {html.escape(r['expectation'])}"
              + (f" ({html.escape(str(r['column']))})" if r.get("column") else "")
              for v in summary["validations"] for r in v["results"] if not r["success"]]
    state = "ok" if summary["success"] else "failed"
    items = "".join(f"<li>{f}</li>" for f in failed[:20]) + (f"<li>… {len(failed) - 20} more</li>" if len(failed) > 20 else "")
    return (f"<p class='dq {state}'>Data quality ({html.escape(summary['run_at'])}): "
            f"{stats['successful_expectations']} of {stats['evaluated_expectations']} expectations met in "
            f"{stats['validations']} validations."
            + (f" <a href='{html.escape(link)}'>Data Docs</a>" if link else "") + "</p>"
            + (f"<ul class='failed'>{items}</ul>" if failed else ""))


def render_html(sections: list[Section], data_dir: Path, page_dir: Path) -> str:
    """The page: sections of ``<figure class="chart">`` (PNG) or ``<div class="chart-empty">`` slots."""
    parts = []
    for section in sections:
        slots = []
        for chart in section.charts:
            if chart.rendered:
                data = base64.b64encode(chart.png).decode("ascii")
                slots.append(f'<figure class="chart" data-chart="{chart.key}">'
                             f'<img alt="{html.escape(chart.title)}" src="data:image/png;base64,{data}">'
                             f"<figcaption><b>{html.escape(chart.title)}</b><br>{html.escape(chart.note)}</figcaption>"
                             "</figure>")
            else:
                slots.append(f'<div class="chart-empty" data-chart="{chart.key}"><b>{html.escape(chart.title)}</b>'
                             f"<p>{html.escape(chart.note)}</p></div>")
        rendered = sum(c.rendered for c in section.charts)
        status = "" if rendered else f" <span class='muted'>— {NO_DATA}</span>"
        parts.append(f'<section id="{section.family}" data-family="{section.family}">'
                     f"<h2>{html.escape(section.title)}{status}</h2><div class='grid'>{''.join(slots)}</div></section>")
    nav = " · ".join(f"<a href='#{s.family}'>{html.escape(s.family)}</a>" for s in sections)
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        data_dir=html.escape(str(data_dir)), nav=nav, dq=_dq_block(data_dir, page_dir), sections="\n".join(parts))


def build_report(data_dir: Path | str | None = None, registry: Registry | None = None) -> ReportResult:
    """Draw the dashboard and write ``<data_dir>/report/index.html`` (temp file + rename).

    Args:
        data_dir: data directory (default ``$TELEMETRY_DATA_DIR``).
        registry: the registry, for families beyond the five of docs/requirements/README.md#families (default ``<repo>/schemas``).

    Returns:
        The page's path and its sections; a family without data has only 'no data yet' slots.
    """
    data_dir = Path(data_dir if data_dir is not None else default_data_dir()).resolve()
    if registry is None and (SCHEMAS_DIR).is_dir():
        registry = Registry.load(SCHEMAS_DIR)
    page_dir = data_dir / "report"
    page_dir.mkdir(parents=True, exist_ok=True)
    sections = build_sections(data_dir, registry)
    page = page_dir / "index.html"
    write_text_atomic(page, render_html(sections, data_dir, page_dir))
    return ReportResult(page, sections)
