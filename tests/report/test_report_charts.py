"""The report's line breaks and the gameplay charts, on hand-made frames (no warehouse)."""
import math
from datetime import date

import polars as pl

from ingest.report.dashboard import combat_success_chart, funnel_chart, with_gaps, xp_velocity_chart


class FakeMarts:
    def __init__(self, **frames: pl.DataFrame):
        self.frames = frames

    def frame(self, name: str) -> pl.DataFrame | None:
        return self.frames.get(name)


def test_a_missing_day_breaks_the_line_and_consecutive_days_do_not():
    xs, ys = with_gaps([date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 5)], [1, None, 3])
    assert xs == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 5)]
    assert ys[0] == 1.0 and math.isnan(ys[1]) and math.isnan(ys[2]) and ys[3] == 3.0
    assert with_gaps([date(2024, 1, 1), date(2024, 1, 2)], [1, 2]) == ([date(2024, 1, 1), date(2024, 1, 2)],
                                                                       [1.0, 2.0])


def test_gameplay_charts_aggregate_ratios_of_sums():
    combat = pl.DataFrame({"event_date": [date(2024, 1, 1)] * 3, "encounter_tier": ["boss", "boss", "normal"],
                           "wins": [1, 2, 3], "engagements": [4, 2, 3]})
    xp = pl.DataFrame({"event_date": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 3)],
                       "xp_gained": [100.0, 50.0, 10.0], "active_hours": [1.0, 2.0, 0.0]})
    funnel = pl.DataFrame({"activated_players": [5, 3], "first_combat_players": [4, 1],
                           "first_combat_win_players": [2, 0]})
    source = FakeMarts(agg_gameplay_combat_daily=combat, agg_gameplay_xp_velocity_daily=xp,
                       agg_onboarding_funnel=funnel)
    chart = combat_success_chart(source)
    rates = dict(zip(chart.data["encounter_tier"], chart.data["combat_success_rate"]))
    assert rates == {"boss": 3 / 6, "normal": 1.0} and chart.png
    chart = xp_velocity_chart(source)
    assert chart.data["xp_per_active_hour"].to_list() == [150.0 / 3.0] and chart.png  # the 0-hour day is left out
    chart = funnel_chart(source)
    assert chart.data.row(0) == (8, 5, 2) and chart.png


def test_gameplay_charts_say_no_data_without_their_marts():
    for draw in (combat_success_chart, xp_velocity_chart, funnel_chart):
        chart = draw(FakeMarts())
        assert chart.png is None and "agg_" in chart.note
