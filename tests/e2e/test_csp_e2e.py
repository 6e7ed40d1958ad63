"""Every page works in Chromium under the portal's Content-Security-Policy, and none reports a violation.

A `securitypolicyviolation` listener is installed (through the DevTools protocol, before any page script)
in every document the browser opens, and the browser log is read after each page: a violation on any page
(including the PDF preview frame and the upload's image preview) fails the test. Each page must also
work: the socket.io connection is up over the websocket, and a click is answered by the server.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from tests.e2e.conftest import chromium, served_portal
from tests.e2e.test_login_e2e import (
    ADMIN_EMAIL,
    CLIENT_EMAIL,
    DEMO_PASSWORD,
    _click,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)

LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""
PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63fcffff3f0300050001f5d2a1be0000000049454e44ae426082"
)
PREPARE = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import timedelta

    from portal.db.lifecycle import database
    from portal.db.models import Client, Invoice, Payment, Quote
    from portal.payments import links
    from portal.core.clock import now_utc

    async def main() -> None:
        async with database(sys.argv[1], auto_migrate=False):
            ada = await Client.get(email="client@demo.test")
            invoice = await Invoice.filter(client_id=ada.id).exclude(number=None).order_by("id").first()
            yuki = await Client.get(email="yuki@demo.test")  # the link's invoice: not one Ada pays here
            invoices = Invoice.filter(client_id=yuki.id, status="open").exclude(number=None)
            linked = await invoices.order_by("id").first()
            quote = await Quote.filter(client_id=ada.id).exclude(status="draft").order_by("id").first()
            payment = await Payment.filter(client_id=ada.id, status="succeeded").order_by("id").first()
            token = await links.issue(
                purpose="invoice", target_id=linked.id, expires_at=now_utc() + timedelta(days=7)
            )
            print(json.dumps({
                "client": ada.id, "invoice": invoice.id, "quote": quote.id if quote else None,
                "payment": payment.id if payment else None, "token": token,
            }))

    asyncio.run(main())
    """
)


@dataclass(frozen=True)
class Portal:
    url: str
    client_id: int
    invoice_id: int
    quote_id: int | None
    payment_id: int | None
    token: str


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    """The portal with the demo data and one payment link for an open invoice of the demo client."""
    with served_portal("portal-csp-", prepare=["-c", PREPARE]) as served:
        ids = json.loads(served.prepared.strip().splitlines()[-1])
        yield Portal(
            url=served.url,
            client_id=ids["client"],
            invoice_id=ids["invoice"],
            quote_id=ids["quote"],
            payment_id=ids["payment"],
            token=ids["token"],
        )


class Checker:
    """Opens pages in one browser and collects every CSP violation and broken connection it sees."""

    def __init__(self, driver: WebDriver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.failures: list[str] = []
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTENER})

    def open(self, path: str, expect: str | None = None) -> None:
        """Open a page, wait for its text and its live connection, then check it."""
        self.driver.get(f"{self.base_url}{path}")
        if expect is not None:
            try:
                _wait_visible(self.driver, _text(expect))
            except Exception as exc:
                self.failures.append(f"{path}: {expect!r} not shown ({type(exc).__name__})")
        self.check(path)

    def check(self, where: str) -> None:
        """The page's live connection is up over the websocket, and nothing was blocked."""
        try:
            _wait(self.driver).until(
                lambda d: d.execute_script(
                    "return !!(window.did_handshake && window.socket && window.socket.connected"
                    " && window.socket.io.engine.transport.name === 'websocket')"
                )
            )
        except Exception as exc:
            self.failures.append(f"{where}: no websocket connection ({type(exc).__name__})")
        self.collect(where)

    def collect(self, where: str) -> None:
        violations = self.driver.execute_script("return window.__cspViolations || []")
        logged = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]
        ]
        for problem in [*violations, *logged]:
            self.failures.append(f"{where}: {problem}")

    def click(self, text: str) -> None:
        """The button named `text`, clicked as every e2e test clicks (a live section may redraw it)."""
        _click(self.driver, f"//button[normalize-space(.)='{text}']")


# the confirmation of a payment, which names its amount ("Thank you! We received $240.00.")
RECEIVED = (By.XPATH, "//body//*[starts-with(normalize-space(text()), 'Thank you! We received')]")


def test_the_policy_probe_catches_an_inline_handler(portal: Portal, browser: WebDriver) -> None:
    """The listener and the log do see a violation (else the other test would prove nothing)."""
    checker = Checker(browser, portal.url)
    checker.open("/login", "Sign in")
    markup = '<img src="/static/logo.svg" onload="window.__ran = 1">'
    browser.execute_script("document.body.insertAdjacentHTML('beforeend', arguments[0])", markup)
    _wait(browser).until(lambda d: d.execute_script("return window.__cspViolations.length > 0"))
    assert browser.execute_script("return window.__ran") is None
    checker.collect("probe")
    assert any("script-src-attr" in failure for failure in checker.failures), checker.failures


def test_every_page_works_without_a_csp_violation(
    portal: Portal, browser: WebDriver, artifacts_dir: Path
) -> None:
    anonymous_and_client = Checker(browser, portal.url)
    anonymous_and_client.open(f"/pay/{portal.token}", "Amount due")
    browser.save_screenshot(str(artifacts_dir / "csp-pay-link.png"))
    _click(browser, "//button[contains(normalize-space(.), 'by card')]")  # the hosted checkout (sandbox)
    _wait(browser).until(lambda d: "/sandbox/checkout/" in d.current_url)
    anonymous_and_client.check("/sandbox/checkout")

    anonymous_and_client.open("/login", "Sign in")
    _sign_in(browser, portal.url, CLIENT_EMAIL, DEMO_PASSWORD)  # typing and a click over the websocket
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text("My Billing"))
    anonymous_and_client.check("/billing")
    anonymous_and_client.click("Pay now")  # the server opens the dialog
    _wait_visible(browser, (By.XPATH, "//*[starts-with(normalize-space(text()), 'Pay invoice')]"))
    anonymous_and_client.click("Pay")  # with the saved card (sandbox): today's payment, drawn on /admin
    _wait_visible(browser, RECEIVED)
    anonymous_and_client.check("/billing, paid")
    pdf_link = (By.CSS_SELECTOR, "a[href$='/pdf']")
    documents = [(f"/billing/invoices/{portal.invoice_id}", pdf_link)]
    if portal.quote_id is not None:
        documents.append(
            (f"/billing/quotes/{portal.quote_id}", (By.XPATH, "//button[.//*[text()='Approve']]"))
        )
    if portal.payment_id is not None:
        documents.append((f"/billing/receipts/{portal.payment_id}", pdf_link))
    for path, shown in documents:
        anonymous_and_client.open(path)
        _wait(browser).until(EC.presence_of_element_located(shown))
    anonymous_and_client.open("/billing/history")
    browser.save_screenshot(str(artifacts_dir / "csp-history.png"))

    with chromium() as driver:
        admin = Checker(driver, portal.url)
        _sign_in(driver, portal.url, ADMIN_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(_path_is("/admin"))
        admin.check("/admin")
        _wait(driver).until(  # the overview's echart drew its canvas
            EC.presence_of_element_located((By.TAG_NAME, "canvas"))
        )
        for path, expect in [
            ("/admin/clients", "Clients"),
            (f"/admin/clients/{portal.client_id}", "Record payment"),
            ("/admin/invoices", "Invoices"),
            (f"/admin/invoices/{portal.invoice_id}", None),
            ("/admin/invoices/new?client=1", "New invoice"),
            ("/admin/quotes", "Estimates and proposals"),
            ("/admin/requests", "Billing requests"),
            ("/admin/requests/new?client=1", "New billing request"),
            ("/admin/plans", "Plans"),
            ("/admin/subscriptions", "Subscriptions"),
            ("/admin/audit", "Audit log"),
            ("/settings/organization", "Settings"),
            ("/settings/billing", "Settings"),
            ("/settings/reminders", "Settings"),
            ("/settings/email", "Settings"),
            ("/settings/payments", "Settings"),
        ]:
            admin.open(path, expect)

        admin.open("/settings/template")  # the PDF preview: a data: URL in an iframe
        _wait(driver).until(
            lambda d: (d.find_element(By.TAG_NAME, "iframe").get_attribute("src") or "").startswith(
                "data:application/pdf;base64,"
            )
        )
        time.sleep(1)  # let the PDF viewer start inside the frame (its violations reach the log)
        admin.collect("/settings/template, preview")
        driver.save_screenshot(str(artifacts_dir / "csp-template-preview.png"))

        admin.open(f"/admin/clients/{portal.client_id}/edit")  # an upload, previewed as a blob: image
        with tempfile.TemporaryDirectory() as folder:
            avatar = Path(folder) / "avatar.png"
            avatar.write_bytes(PNG)
            _wait(driver).until(
                EC.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]"))
            ).send_keys(str(avatar))
            _wait(driver).until(
                lambda d: d.execute_script(
                    "return [...document.querySelectorAll('img')].some((i) => i.src.startsWith('blob:'))"
                    " || [...document.querySelectorAll('.q-uploader__file--img')].length > 0"
                )
            )
            time.sleep(1)
        admin.check(f"/admin/clients/{portal.client_id}/edit, upload")

    assert not anonymous_and_client.failures + admin.failures, "\n".join(
        anonymous_and_client.failures + admin.failures
    )
