"""Set a password from an invitation link."""

from __future__ import annotations


def register() -> None:
    """Add the pages of this module."""
