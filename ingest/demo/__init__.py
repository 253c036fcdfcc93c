"""The demo: every family end to end, then the Open Bandit sample."""

from .recsys import run_demo

__all__ = ["run_demo"]
