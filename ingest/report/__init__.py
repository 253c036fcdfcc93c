"""The static HTML dashboard over the published marts."""

from .dashboard import DESIGN_FAMILIES, ReportResult, build_report

__all__ = ["DESIGN_FAMILIES", "ReportResult", "build_report"]
