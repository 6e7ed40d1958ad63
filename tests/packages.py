"""The use-case packages under portal/, for tests that sweep every public service."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import portal

PORTAL = Path(portal.__file__).resolve().parent
USE_CASE_PACKAGES = ("core", "accounts", "clients", "billing", "payments", "subscriptions", "settings")


def use_case_modules() -> Iterator[ModuleType]:
    """Every module of the use-case packages (sub-packages included), imported."""
    for package in USE_CASE_PACKAGES:
        root = importlib.import_module(f"portal.{package}")
        yield root
        for info in pkgutil.walk_packages(root.__path__, prefix=f"portal.{package}."):
            yield importlib.import_module(info.name)
