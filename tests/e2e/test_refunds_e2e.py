"""Staff refund part of a payment from the console's invoice page in a real Chromium, in English and French
(issue 15 item 1): the dialog offers what can be refunded, refuses more with the exact figure, refunds the
part asked for once, says so on the page, and (issue 16 item 5) cancels it on the invoice with a credit note:
the invoice stays paid and shows what the credit note took off, drawn once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from portal import i18n
from portal.domain.money import format_money
from portal.domain.status import local_label
from portal.i18n import pgettext, translate
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.test_live_sections_e2e import (
    SETTLE_SECONDS,
    _click,
    _containing,
    _dialog,
    _exactly,
    _quoted,
    _see,
    _visible,
)
from tests.e2e.test_login_e2e import ADMIN_EMAIL, DEMO_PASSWORD, _sign_in, _wait


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str, dict]]:
    language = request.param
    with served_portal(
        f"portal-refunds-{language}-", prepare=["-m", "tests.e2e.refunds_seed", language]
    ) as p:
        line = next(x for x in p.prepared.splitlines() if x.startswith("REFUNDS_SEED="))
        yield p, language, json.loads(line.split("=", 1)[1])


@pytest.fixture(scope="module")
def admin_browser(portal: tuple[ServedPortal, str, dict]) -> Iterator[WebDriver]:
    served, _language, _ids = portal
    with chromium() as driver:
        _sign_in(driver, served.url, ADMIN_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: "/admin" in d.current_url)
        yield driver


def _type(driver: WebDriver, xpath: str, text: str) -> None:
    field = _wait(driver).until(lambda d: _visible(d, xpath))[0]
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def test_staff_refund_part_of_a_payment_from_the_invoice_page(
    portal: tuple[ServedPortal, str, dict], admin_browser: WebDriver, artifacts_dir: Path
) -> None:
    served, language, ids = portal
    driver = admin_browser
    t = lambda text, **values: translate(text, language, **values)  # noqa: E731
    money = lambda minor: format_money(minor, "USD", language)  # noqa: E731
    with i18n.locale_scope(language):  # never set_locale: it would leak into the tests after this one
        driver.get(f"{served.url}/admin/invoices/{ids['invoice_id']}")
        _see(driver, _exactly(t("Subtotal (net)")))
        _see(driver, _exactly(local_label("paid")))
        refund = pgettext("action", "Refund", language)
        _click(driver, f"//table//button[contains(normalize-space(.), {_quoted(refund)})]")
        _see(driver, _dialog(_exactly(t("Up to {amount} can be refunded.", amount=money(ids["amount"])))))
        amount = _dialog("//input[@inputmode='decimal']")

        _type(driver, amount, "999999")  # more than the payment
        _click(driver, _dialog(f"//button[contains(normalize-space(.), {_quoted(refund)})]"))
        at_most = t("At most {amount} can be refunded.", amount=money(ids["amount"]))
        _see(driver, _dialog(_containing(at_most)))

        _type(driver, amount, "100")
        _type(driver, _dialog("//textarea"), "Logo")
        _click(driver, _dialog(f"//button[contains(normalize-space(.), {_quoted(refund)})]"))
        done = t("{amount} recorded as refunded ({method}).", amount=money(10000), method=t("Bank transfer"))
        _see(driver, _containing(done))
        # the default answer: the refunded part is cancelled by a credit note, the invoice stays paid
        issued = re.escape(t("Credit note {numbers} issued.", numbers="NUMBER")).replace("NUMBER", r"\S+")
        _wait(driver).until(lambda d: re.search(issued, d.find_element(By.TAG_NAME, "body").text))
        _see(driver, _exactly(t("Cancelled by credit notes")))
        _see(driver, _exactly(local_label("paid")))
        _see(driver, _exactly(money(-10000)))  # the totals row: what the credit note took off
        assert not _visible(driver, f"//button[contains(normalize-space(.), {_quoted(t('Record payment'))})]")
        time.sleep(SETTLE_SECONDS)
        assert len(_visible(driver, _exactly(t("Subtotal (net)")))) == 1, "the invoice body is drawn twice"
        assert _visible(driver, _containing(done)), "the confirmation went with the redraw"
        assert not _visible(driver, _dialog("//textarea")), "the dialog stayed open"
        driver.save_screenshot(str(artifacts_dir / f"e2e-refund-{language}.png"))
