"""Event times on the columnar path: the compiled SQL of each time unit against the reference's own reading
(``ingest.pipeline.row._occurred_us``: ``datetime.fromisoformat``, Python float rounding), value by value, and
whole lines of an ISO 8601 family through both processors (docs/requirements/design.md#columnar-ingest)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import duckdb
import orjson
import pytest

from ingest.pipeline.columnar import ColumnarProcessor
from ingest.pipeline.reader import Line
from ingest.pipeline.row import LineProcessor, _occurred_us
from ingest.pipeline.settings import IngestSettings
from ingest.registry.compile import time_us_sql

ISO_TIMES = [
    "2024-11-24T10:00:00Z", "2024-11-24T10:00:00.1Z", "2024-11-24T10:00:00.123Z", "2024-11-24T10:00:00.123456Z",
    "2024-11-24T10:00:00+02:00", "2024-11-24T01:30:00-05:30", "2024-11-24T23:59:59.999999+23:59",
    "2024-11-24T00:00:00-23:59", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2024-04-31T00:00:00Z",
    "2024-11-24T24:00:00Z", "2024-11-24T23:60:00Z", "2024-11-24T23:59:60Z", "2024-11-24t10:00:00Z",
    "2024-11-24T10:00:00z", "2024-11-24 10:00:00Z", "2024-11-24T10:00:00", "2024-11-24T10:00Z",
    "2024-11-24T10:00:00.1234567Z", "2024-11-24T10:00:00+0200", "2024-11-24T10:00:00+24:00", "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.5Z", "20241124T100000Z",
    "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-11-00T00:00:00Z", "2024-11-24T10:00:00.Z", "",
    "2024-11-24T10:00:00+02:60", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
]
EPOCH_SECONDS = [
    0, 1, 1732406400, 1732406400.5, 1732406400.0000005, 1732406400.0000015, 1732406400.123456789, -1.5, 0.0000005,
    1e9, 1.7e9, 2.5e-7, 8999999999999, 9000000000000, 1e13, 1732406400.9999996, 123.4567895, 1e-300,
]
EPOCH_MS = [0, 1732406400000, -1, 8999999999999999, 9000000000000000, 2**62]


def _sql_values(unit: str, snippets: list[str]) -> list[int | None]:
    con = duckdb.connect()
    rows = con.execute(f"select {time_us_sql(unit, 'v')} from unnest(?::VARCHAR[]) with ordinality as t(v, n) order by n",
                       [snippets]).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("unit, values", [("iso8601", ISO_TIMES), ("epoch_s", EPOCH_SECONDS), ("epoch_ms", EPOCH_MS)])
def test_the_compiled_time_is_the_reference_time_or_null(unit, values):
    """Where the SQL gives a time, it is exactly the reference's microseconds; it gives none only where the
    reference cannot read the value or for forms it leaves to the row path."""
    snippets = [orjson.dumps(v).decode() for v in values]
    compiled = _sql_values(unit, snippets)
    taken = 0
    for value, got in zip(values, compiled):
        if got is not None:
            assert got == _occurred_us(value, unit), (unit, value)
            taken += 1
    # the common forms are read by the SQL itself, not all left to the row path
    assert taken >= len(values) // 3, (unit, compiled)


def test_common_iso_forms_are_read_by_the_sql():
    common = ["2024-11-24T10:00:00Z", "2024-11-24T10:00:00.123Z", "2024-11-24T10:00:00.123456+02:00",
              "2024-11-24T01:30:00-05:30"]
    assert _sql_values("iso8601", [orjson.dumps(v).decode() for v in common]) == \
        [_occurred_us(v, "iso8601") for v in common]


def test_iso_times_through_both_processors_land_the_same(registry):
    """Politics endorsements (ISO 8601 ``createdAt``) with every time above: same rows, quarantine and counts
    from both processors, and the columnar path lands the valid common forms itself."""
    schema = registry.families["politics"].schemas[("endorsement", "1.0")]
    example = schema.document["examples"][0]
    key = b"times-key-0123456789abcdef012345"
    settings = IngestSettings(registry.root, key, "k1", datetime(2024, 11, 25, tzinfo=timezone.utc), backfill=True)
    reference = LineProcessor(registry, settings)
    columnar = ColumnarProcessor(registry, LineProcessor(registry, settings), threads=1)
    lines = []
    for n, value in enumerate(ISO_TIMES):
        event = copy.deepcopy(example)
        event["createdAt"], event["eventId"] = value, f"evt-time-{n}"
        lines.append(Line(n + 1, orjson.dumps(event), 0, None))
    expected = reference.process_chunk(lines, "batch-times", "times.jsonl")
    actual = columnar.process_chunk(lines, "batch-times", "times.jsonl")
    assert (actual.lines, actual.records, actual.dropped) == (expected.lines, expected.records, expected.dropped)
    assert sorted((r["line_number"], r["reason"]) for r in actual.quarantine) == \
        sorted((r["line_number"], r["reason"]) for r in expected.quarantine)

    def rows(outcome):
        return {k: sorted(orjson.dumps(r, default=str, option=orjson.OPT_SORT_KEYS) for r in b.to_pylist())
                for k, (_, b) in outcome.landed.items()}

    assert rows(actual) == rows(expected)
    # left to the row path: times before 1970 and an offset of 60 minutes (``+02:60``, which fromisoformat
    # reads); every other landed event went through the columnar path
    after_epoch = sum(1 for _, b in expected.landed.values() for t in b.column("occurred_at").to_pylist()
                      if t >= datetime(1970, 1, 1))
    assert after_epoch >= 10 and columnar.stats["columnar"] == after_epoch - 1
