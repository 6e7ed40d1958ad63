"""Settings pages."""

from __future__ import annotations


def register() -> None:
    """Add the pages of this module."""
