"""The example notebook runs top to bottom on a built warehouse (so it cannot rot) and draws its charts."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

import pytest

pytestmark = [pytest.mark.dbt]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "warehouse_tour.ipynb"


def test_warehouse_tour_executes_and_plots(built, monkeypatch):
    monkeypatch.setenv("TELEMETRY_DATA_DIR", str(built.data_dir))  # the kernel inherits it
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "commit it without outputs"
    NotebookClient(notebook, kernel_name="python3", timeout=120, startup_timeout=120,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 3, "CTR by bucket, DAU, quarantine rate"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert str(built.data_dir) in text and "agg_recsys_daily" in text
