"""Fixtures for the reader tests: one small warehouse, built once per session through ``run_dbt``.

Two synthetic recsys batches (``ingest.synthetic``) are ingested with the real pipeline into a temporary data
directory, then ``dbt build`` (without its tests) builds the recsys marts and ``dq_ingest_daily`` through
``ingest.warehouse.run_dbt``, which publishes the marts to ``<data_dir>/marts/``. Tests that change files work
on copies (``readers_support.copy_data_dir``).
"""

from __future__ import annotations

import os

import pytest

from chromium import find_chromium
from readers_support import AS_OF, KEY, NO_TESTS, ROOT, SELECT, Built, write_lines


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    from ingest.pipeline import IngestSettings, ingest_files
    from ingest.registry import Registry
    from ingest.generate.synthetic import recsys_events
    from ingest.warehouse import run_dbt

    data_dir = tmp_path_factory.mktemp("readers") / "data"
    inputs = data_dir.parent / "inputs"
    inputs.mkdir(parents=True)
    registry = Registry.load(ROOT / "schemas")
    first = write_lines(inputs / "a.jsonl", recsys_events(120, seed=1, span_days=2))
    second = write_lines(inputs / "b.jsonl", recsys_events(60, seed=2, start_ms=1_732_579_200_000, span_days=2),
                         extra=["{not json", '{"event_type": "click", "schema_version": "9.9"}'])
    settings = IngestSettings(registry.root, KEY, "k-test", AS_OF, backfill=True)
    results = ingest_files([first, second], settings, data_dir, registry=registry).batches
    assert all(r.landed > 0 for r in results)
    run_dbt(["build", "--select", SELECT, *NO_TESTS], data_dir, quiet=True)
    return Built(data_dir, (results[0].batch_id, results[1].batch_id), sum(r.quarantined for r in results))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (or Chrome); skipped with a message when absent, a failure under CI."""
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found: .ci/run installs Debian's chromium so CI runs the screenshot tests")
        pytest.skip("no Chromium found (install Debian's `chromium`): the screenshot test is skipped")
    return path
