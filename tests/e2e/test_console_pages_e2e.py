"""Every console and settings screen renders in a real browser for an admin, without errors; the
screenshots double as the README's pictures (`artifacts/console-*.png`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.test_login_e2e import (
    ADMIN_EMAIL,
    DEMO_PASSWORD,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)

SCREENS = [
    ("/admin/clients", "Clients", "console-clients"),
    ("/admin/invoices", "Invoices", "console-invoices"),
    ("/admin/invoices/new?client=1", "New invoice", "console-invoice-editor"),
    ("/admin/quotes", "Estimates and proposals", "console-quotes"),
    ("/admin/requests", "Billing requests", "console-requests"),
    ("/admin/requests/new?client=1", "New billing request", "console-request-form"),
    ("/admin/plans", "Plans", "console-plans"),
    ("/admin/subscriptions", "Subscriptions", "console-subscriptions"),
    ("/admin/audit", "Audit log", "console-audit"),
    ("/settings/organization", "Settings", "settings-organization"),
    ("/settings/billing", "Settings", "settings-billing"),
    ("/settings/template", "Settings", "settings-template"),
    ("/settings/reminders", "Settings", "settings-reminders"),
    ("/settings/email", "Settings", "settings-email"),
]


@pytest.fixture
def admin(portal_server: str, browser: WebDriver) -> WebDriver:
    _sign_in(browser, portal_server, ADMIN_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/admin"))
    return browser


def test_every_console_screen_renders_for_an_admin(
    portal_server: str, admin: WebDriver, artifacts_dir: Path
) -> None:
    failures = []
    for path, title, name in SCREENS:
        admin.get(f"{portal_server}{path}")
        try:
            _wait_visible(admin, _text(title))
        except Exception as exc:
            failures.append(f"{path}: {title!r} not shown ({type(exc).__name__})")
        admin.save_screenshot(str(artifacts_dir / f"{name}.png"))
        logs = [e["message"] for e in admin.get_log("browser") if e.get("level") == "SEVERE"]
        if logs:
            failures.append(f"{path}: browser errors {logs[:3]}")
    assert not failures, "\n".join(failures)


def test_the_client_record_shows_the_clients_documents(
    portal_server: str, admin: WebDriver, artifacts_dir: Path
) -> None:
    admin.get(f"{portal_server}/admin/clients/1")
    _wait_visible(admin, _text("Ada Lovelace"))
    _wait_visible(admin, _text("Record payment"))
    admin.save_screenshot(str(artifacts_dir / "console-client-record.png"))
