"""Issue 15 items 2 and 10 in Chromium, in English and French: staff pay part of an invoice from the
client's credit on the console's invoice page, seeing the credit available and the credit left before
confirming; the billing-request form shows a message under every wrong field at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from portal.domain.money import format_money
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.test_live_sections_e2e import _click, _containing, _dialog, _quoted, _see, _tr, _visible
from tests.e2e.test_login_e2e import DEMO_PASSWORD, _sign_in, _wait

STAFF_EMAIL = "staff@demo.test"


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str, dict]]:
    """A portal whose people all speak `language`, and Ada's oldest open invoice and credit."""
    language = request.param
    with served_portal(
        f"portal-staff-credit-{language}-", prepare=["-m", "tests.e2e.staff_credit_seed", language]
    ) as p:
        line = next(x for x in p.prepared.splitlines() if x.startswith("STAFF_CREDIT_SEED="))
        yield p, language, json.loads(line.split("=", 1)[1])


@pytest.fixture(scope="module")
def staff_browser(portal: tuple[ServedPortal, str, dict]) -> Iterator[WebDriver]:
    """The demo staff member, signed in."""
    served, _language, _seed = portal
    with chromium("portal-e2e-chromium-staff-credit-") as driver:
        _sign_in(driver, served.url, STAFF_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: "/admin" in d.current_url)
        yield driver


def _type_into(driver: WebDriver, xpath: str, text: str) -> None:
    """Select what a field holds and type over it, like a person."""
    field = _wait(driver).until(lambda d: _visible(d, xpath))[0]
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def _submit(t: Callable[..., str]) -> str:
    """The dialog's confirming button (the mode toggle above it carries the same words)."""
    return _dialog(
        f"//button[normalize-space(.)={_quoted(t('Pay from credit'))}]"
        "[not(ancestor::*[contains(@class, 'q-btn-toggle')])]"
    )


def _field(label: str) -> str:
    """The input of the outlined field labelled `label`."""
    return (
        f"//label[.//div[contains(@class, 'q-field__label') and normalize-space(text())={_quoted(label)}]]"
        "//input"
    )


def test_staff_pay_part_of_an_invoice_from_credit_and_see_the_credit_left_first(
    portal: tuple[ServedPortal, str, dict], staff_browser: WebDriver, artifacts_dir: Path
) -> None:
    served, language, seed = portal
    t, driver = _tr(language), staff_browser
    money = lambda amount: format_money(amount, "USD", language)  # noqa: E731
    assert seed["credit"] >= 1000 and seed["due"] > 1000
    driver.get(f"{served.url}/admin/invoices/{seed['invoice_id']}")
    _click(driver, f"//button[contains(normalize-space(.), {_quoted(t('Pay from credit'))})]")
    available = t("Credit available: {amount}", amount=money(seed["credit"]))
    _see(driver, _dialog(_containing(available)))  # before anything is confirmed

    amount = _dialog("//input[@inputmode='decimal']")
    _type_into(driver, amount, "10")
    left = t(
        "Credit left after this payment: {left}. Still due on {number}: {due}.",
        left=money(seed["credit"] - 1000),
        number=seed["number"],
        due=money(seed["due"] - 1000),
    )
    _see(driver, _dialog(_containing(left)))  # the credit left, shown before confirming
    driver.save_screenshot(str(artifacts_dir / f"e2e-staff-credit-before-{language}.png"))

    _type_into(driver, amount, str(seed["credit"] // 100 + 5))  # more than the credit
    _click(driver, _submit(t))
    _see(
        driver,
        _dialog(_containing(t("The client has only {amount} of credit.", amount=money(seed["credit"])))),
    )

    _type_into(driver, amount, "10")
    _click(driver, _submit(t))
    done = t(
        "{amount} of credit applied to {number}. Credit left: {left}. Still due: {due}.",
        amount=money(1000),
        number=seed["number"],
        left=money(seed["credit"] - 1000),
        due=money(seed["due"] - 1000),
    )
    _see(driver, _dialog(_containing(done)))
    assert not _visible(driver, _submit(t))  # the dialog cannot pay it twice
    driver.save_screenshot(str(artifacts_dir / f"e2e-staff-credit-after-{language}.png"))
    _click(driver, _dialog(f"//button[normalize-space(.)={_quoted(t('Close'))}]"))
    _see(driver, f"//td[normalize-space(.)={_quoted(t('Credit'))}]")  # the invoice lists the credit used


def test_the_billing_request_form_shows_an_error_under_every_wrong_field(
    portal: tuple[ServedPortal, str, dict], staff_browser: WebDriver, artifacts_dir: Path
) -> None:
    served, language, _seed = portal
    t, driver = _tr(language), staff_browser
    driver.get(f"{served.url}/admin/requests/new")
    _type_into(driver, _field(t("Email")), "nobody")
    _type_into(driver, _field(t("Currency")), "XX")
    _type_into(driver, _field(t("Amount")), "ten")
    _type_into(driver, _field(t("Success URL")), "ftp://agency.test/ok")
    _type_into(driver, _field(t("Cancel URL")), "agency")
    _click(driver, f"//button[contains(normalize-space(.), {_quoted(t('Send billing request'))})]")
    for message in (
        t("Choose the client this request is for."),
        t("Enter a valid email address, like name@example.com."),
        t("{code} is not a currency code we know. Use three letters, like USD or EUR.", code="XX"),
        t("'{value}' is not a valid amount.", value="ten"),
        t("The success URL must start with https:// or http://"),
        t("Enter the full cancel URL, starting with https:// or http://"),
    ):
        _see(driver, f"//*[@role='alert'][contains(normalize-space(.), {_quoted(message)})]")
    _see(driver, _containing(t("Please correct the fields marked in red. Nothing was sent.")))
    driver.save_screenshot(str(artifacts_dir / f"e2e-request-form-errors-{language}.png"))
