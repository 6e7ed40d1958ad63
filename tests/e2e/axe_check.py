"""axe-core in the Chromium tests: inject the pinned axe.min.js into the open page and list what it finds.

axe-core comes from the npm registry, pinned in tests/e2e/axe/package.json and package-lock.json. When its
node_modules is missing, `npm ci --prefix tests/e2e/axe` runs once; if that fails the test is skipped on a
developer machine without npm, and fails under CI=true (never a silent skip in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import ServedPortal, _server_env

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
NPM_COMMAND = ["npm", "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"]
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SERIOUS = ("serious", "critical")

_install_lock = threading.Lock()
_source: str | None = None

RUN = """
const [tags, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then((result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 160),
                                summary: n.failureSummary, impact: n.impact})),
  }))))
  .catch((error) => done({error: String(error)}));
"""


@dataclass(frozen=True)
class Violation:
    """One axe rule that fails on a page, with the elements it fails on."""

    rule: str
    impact: str
    help: str
    nodes: list[dict[str, Any]]

    def describe(self) -> str:
        where = "; ".join(f"{node['target']} {node['html']}" for node in self.nodes[:4])
        more = f" (+{len(self.nodes) - 4} more)" if len(self.nodes) > 4 else ""
        return f"{self.rule} [{self.impact}] {self.help}: {where}{more}"


def _fail_or_skip(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)  # only on a developer machine without npm; CI=true turns it into a failure


def axe_source() -> str:
    """The text of axe.min.js, installing the pinned axe-core with `npm ci` first when it is missing."""
    global _source
    with _install_lock:
        if _source is not None:
            return _source
        if not AXE_SCRIPT.exists():
            if shutil.which("npm") is None:
                _fail_or_skip(f"axe-core is not installed and npm is missing: run `{' '.join(NPM_COMMAND)}`")
            result = subprocess.run(NPM_COMMAND, capture_output=True, text=True, timeout=300, check=False)
            if result.returncode != 0 or not AXE_SCRIPT.exists():
                _fail_or_skip(
                    f"`{' '.join(NPM_COMMAND)}` failed (exit {result.returncode}):\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
                )
        _source = AXE_SCRIPT.read_text()
        return _source


def axe_violations(driver: WebDriver, *, impacts: tuple[str, ...] = SERIOUS) -> list[Violation]:
    """Run axe-core on the page open in `driver`; return the violations of the given impacts."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    found = driver.execute_async_script(RUN, TAGS)
    if isinstance(found, dict):
        raise AssertionError(f"axe.run failed: {found.get('error')}")
    return [
        Violation(item["id"], item["impact"] or "", item["help"], item["nodes"])
        for item in found
        if (item["impact"] or "") in impacts
    ]


# ---- the tour of the portal's pages shared by the accessibility and phone-width tests ----

PREPARE = """
import asyncio, json, sys
from datetime import timedelta

from portal.core.clock import now_utc
from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, Payment, Quote
from portal.payments import links


async def main() -> None:
    async with database(sys.argv[1], auto_migrate=False):
        ada = await Client.get(email="client@demo.test")
        numbered = Invoice.filter(client_id=ada.id).exclude(number=None)
        invoice = await numbered.order_by("id").first()
        links_by_language = {}
        for language, email in (("en", "yuki@demo.test"), ("fr", "emile@demo.test")):
            payer = await Client.get(email=email)
            linked = await Invoice.filter(client_id=payer.id, status="open").exclude(number=None).first()
            expires = now_utc() + timedelta(days=7)
            token = await links.issue(purpose="invoice", target_id=linked.id, expires_at=expires)
            links_by_language[language] = token
        estimate = await Quote.filter(client_id=ada.id, kind="estimate").exclude(status="draft").first()
        proposal = await Quote.filter(client_id=ada.id, kind="proposal").exclude(status="draft").first()
        payment = await Payment.filter(client_id=ada.id, status="succeeded").order_by("id").first()
        print(json.dumps({
            "client": ada.id, "invoice": invoice.id, "payment": payment.id, "tokens": links_by_language,
            "estimate": estimate.id if estimate else None, "proposal": proposal.id if proposal else None,
        }))


asyncio.run(main())
"""


@dataclass(frozen=True)
class Tour:
    """The ids of the demo records the tour opens, and payment links for open invoices of an English-speaking
    client (Yuki) and a French-speaking one (Émile): the link's page is in its client's language."""

    url: str
    client_id: int
    invoice_id: int
    payment_id: int
    tokens: dict[str, str]
    estimate_id: int | None
    proposal_id: int | None

    def client_pages(self) -> list[str]:
        pages = [
            "/billing",
            "/billing/history",
            "/billing/open",
            "/billing/statement",
            "/billing/pay-all/USD",
            f"/billing/invoices/{self.invoice_id}",
            f"/billing/receipts/{self.payment_id}",
        ]
        pages += [f"/billing/quotes/{quote}" for quote in (self.estimate_id, self.proposal_id) if quote]
        return pages

    def console_pages(self) -> list[str]:
        return [
            "/admin",
            "/admin/clients",
            f"/admin/clients/{self.client_id}",
            f"/admin/clients/{self.client_id}/edit",
            f"/admin/clients/{self.client_id}/statement",
            "/admin/clients/import",
            f"/admin/receipts/{self.payment_id}",
            "/admin/exports",
            "/admin/invoices",
            f"/admin/invoices/{self.invoice_id}",
            f"/admin/invoices/new?client={self.client_id}",
            "/admin/quotes",
            "/admin/requests",
            f"/admin/requests/new?client={self.client_id}",
            "/admin/plans",
            "/admin/subscriptions",
            "/admin/audit",
            "/settings/organization",
            "/settings/billing",
            "/settings/template",
            "/settings/reminders",
            "/settings/email",
            "/settings/payments",
        ]


def tour_of(served: ServedPortal) -> Tour:
    """Look up the demo records in the database of the tours' own portal (the `tour_portal` fixture) and
    issue payment links for open invoices."""
    database_url = served.database_url
    result = subprocess.run(
        [sys.executable, "-c", PREPARE, database_url],
        cwd=AXE_DIR.parents[2],
        env=_server_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"looking up the demo records failed:\n{result.stdout}\n{result.stderr}"
    ids = json.loads(result.stdout.strip().splitlines()[-1])
    return Tour(
        url=served.url,
        client_id=ids["client"],
        invoice_id=ids["invoice"],
        payment_id=ids["payment"],
        tokens=ids["tokens"],
        estimate_id=ids["estimate"],
        proposal_id=ids["proposal"],
    )


def settle(driver: WebDriver, seconds: float = 0.5) -> None:
    """Wait for the page's live connection, for its sections to be drawn and for Quasar's transitions."""
    WebDriverWait(driver, 20, poll_frequency=0.1).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && !!(window.socket && window.socket.connected)"
            " && !document.querySelector('.q-skeleton, .q-inner-loading, .q-spinner:not(.q-btn__content *)')"
        )
    )
    time.sleep(seconds)


ACCOUNT_MENU = (By.XPATH, "//header//button[.//i[normalize-space(text())='account_circle']]")


def switch_language(driver: WebDriver, code: str) -> None:
    """Pick a language in the account menu of a signed-in page (stored on the account; the page reloads)."""
    settle(driver, 0.2)
    heading = driver.find_element(By.CSS_SELECTOR, "[role=heading][aria-level='1']").text
    WebDriverWait(driver, 20).until(EC.element_to_be_clickable(ACCOUNT_MENU)).click()
    item = (By.XPATH, f"//div[contains(@class, 'q-item') and @lang='{code}']")
    WebDriverWait(driver, 20).until(EC.element_to_be_clickable(item)).click()
    WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[role=heading][aria-level='1']").text != heading
    )
