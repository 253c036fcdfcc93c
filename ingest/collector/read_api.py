"""Seed 000 §7 read API (placeholder until the routes are added)."""

from __future__ import annotations

from typing import Any


def register(app: Any, collector: Any, auth: Any) -> None:
    """Add the read routes to ``app``."""
