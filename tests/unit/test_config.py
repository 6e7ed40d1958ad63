"""Settings: production refuses the development secrets."""

from __future__ import annotations

import pytest

from portal.config import Settings


def test_production_refuses_default_secrets() -> None:
    settings = Settings(portal_env="production")
    with pytest.raises(SystemExit) as stop:
        settings.check_production_safety()
    assert "SECRET_KEY" in str(stop.value) and "STORAGE_SECRET" in str(stop.value)


def test_production_refuses_short_secrets() -> None:
    settings = Settings(portal_env="production", secret_key="short", storage_secret="s" * 40)
    with pytest.raises(SystemExit, match="SECRET_KEY"):
        settings.check_production_safety()


def test_production_starts_with_real_secrets() -> None:
    Settings(portal_env="production", secret_key="k" * 40, storage_secret="s" * 40).check_production_safety()


def test_development_allows_the_defaults_and_derives_a_fernet_key() -> None:
    settings = Settings(portal_env="development")
    settings.check_production_safety()
    assert len(settings.fernet_key) == 44
    assert Settings(secret_key="a" * 40).fernet_key != Settings(secret_key="b" * 40).fernet_key
