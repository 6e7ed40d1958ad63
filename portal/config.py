"""Settings: the only module that reads environment variables."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-only-secret-change-me"
DEFAULT_STORAGE_SECRET = "dev-only-storage-secret-change-me"
SQLITE = "sqlite://"


class Settings(BaseSettings):
    """Every knob the portal has, read from the environment (or a `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    portal_env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite://data/portal.sqlite3"
    secret_key: str = DEFAULT_SECRET
    storage_secret: str = DEFAULT_STORAGE_SECRET
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    auto_migrate: bool = True

    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "billing@localhost"
    smtp_tls: Literal["none", "starttls", "tls"] = "none"

    nicegui_redis_url: str = ""
    # issued documents (invoice and receipt PDFs, Factur-X) are stored once and served as stored; a folder
    # every portal process can read and write ("": `documents` beside the SQLite database, else data/)
    documents_dir: str = ""
    # the EU's VIES service, asked about clients' VAT numbers when the organization turns the check on
    vies_url: str = "https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number"
    vies_timeout_seconds: float = Field(default=5, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    impersonation_minutes: int = Field(default=30, ge=1)
    jobs_enabled: bool = True
    jobs_interval_seconds: float = Field(default=0, ge=0)  # 0: each job's own interval (tests use 1)
    # Request bodies (413 above these, refused before being read whole; see portal/security.py)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # webhooks, forms, socket.io polling
    upload_max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)  # NiceGUI's upload routes

    @property
    def is_production(self) -> bool:
        """True when the portal must refuse unsafe defaults."""
        return self.portal_env == "production"

    @property
    def documents_path(self) -> Path:
        """The folder issued documents are stored in: DOCUMENTS_DIR, else `documents` beside the SQLite
        database (data/documents by default), else data/documents (a PostgreSQL database)."""
        if self.documents_dir:
            return Path(self.documents_dir)
        if self.database_url.startswith(SQLITE):
            database = self.database_url[len(SQLITE) :].split("?", 1)[0]
            if database and database != ":memory:":
                return Path(database).parent / "documents"
        return Path("data") / "documents"

    @cached_property
    def fernet_key(self) -> bytes:
        """A Fernet key derived from SECRET_KEY, for secrets encrypted at rest."""
        digest = hashlib.sha256(b"portal-fernet:" + self.secret_key.encode()).digest()
        return base64.urlsafe_b64encode(digest)

    def check_production_safety(self) -> None:
        """Refuse to start in production with the development secrets."""
        if not self.is_production:
            return
        problems = []
        if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
            problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
        if self.storage_secret == DEFAULT_STORAGE_SECRET or len(self.storage_secret) < 32:
            problems.append("STORAGE_SECRET must be set to a random value of at least 32 characters")
        if problems:
            raise SystemExit("Refusing to start in production: " + "; ".join(problems) + ".")


_read: tuple[tuple[object, ...], Settings] | None = None


def _sources() -> tuple[object, ...]:
    """What the settings are read from: the environment (a plain copy: comparing two is cheap, unlike
    decoding every variable) and the .env file (its size and mtime)."""
    try:
        stat = os.stat(".env")
        env_file: tuple[object, ...] = (os.path.abspath(".env"), stat.st_size, stat.st_mtime_ns)
    except OSError:
        env_file = (os.getcwd(),)
    return (dict(getattr(os.environ, "_data", os.environ)), env_file)


def get_settings() -> Settings:
    """The settings, read again whenever the environment or the .env file changed since the last read
    (tests change the environment between runs). Building them costs about 2 ms, and services ask for
    them on every request, so an unchanged environment gets the same (read-only) object back."""
    global _read
    sources = _sources()
    if _read is None or _read[0] != sources:
        _read = (sources, Settings())
    return _read[1]
