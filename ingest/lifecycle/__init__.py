"""Data lifecycle: retention windows per family and layer."""

from .retention import Drop, apply, plan

__all__ = ["Drop", "apply", "plan"]
