"""In a real browser, in English and in French: the Pay dialog on My Billing offers a card, a new card,
direct debit, bank transfer and credit (issue 15 item 3), and a EUR client pays everything due in EUR at
once from My Billing's "Pay all" (item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from portal.i18n import translate
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.test_login_e2e import (
    DEMO_PASSWORD,
    _click,
    _connected,
    _path_is,
    _sign_in,
    _wait,
    _wait_visible,
)

EUR_CLIENT = "emile@demo.test"


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str]]:
    """A demo portal whose people all speak `language`."""
    language = request.param
    with served_portal(
        f"portal-pay-all-{language}-", prepare=["-m", "tests.e2e.live_sections_seed", language]
    ) as served:
        yield served, language


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


def _radio_labels(browser: WebDriver) -> list[str]:
    return [el.text.strip() for el in browser.find_elements(By.CSS_SELECTOR, ".q-dialog .q-radio") if el.text]


def test_the_dialog_offers_every_way_then_everything_due_in_eur_is_paid_at_once(
    portal: tuple[ServedPortal, str], driver: WebDriver, artifacts_dir: Path
) -> None:
    served, language = portal
    _sign_in(driver, served.url, EUR_CLIENT, DEMO_PASSWORD)
    _wait(driver).until(_path_is("/billing"))
    _connected(driver)

    # the Pay dialog of the first invoice: every way to pay
    pay_now = (By.XPATH, f"//button[normalize-space(.)='{translate('Pay now', language)}']")
    _click(driver, pay_now)
    _wait(driver).until(lambda d: len(_radio_labels(d)) >= 4)
    labels = _radio_labels(driver)
    for way in ("A new card", "Direct debit", "Bank transfer"):
        assert translate(way, language) in labels, (way, labels)
    assert any("4242" in label for label in labels), labels
    _click(driver, _exactly(translate("Bank transfer", language)))
    _wait_visible(driver, _starts(_quote(language)))
    driver.save_screenshot(str(artifacts_dir / f"e2e-pay-choices-{language}.png"))
    close = (By.XPATH, f"//button[normalize-space(.)='{translate('Close', language)}']")
    _click(driver, close)

    # Pay all, next to the EUR total
    pay_all = (By.XPATH, f"//a[normalize-space(.)='{translate('Pay all', language)}']")
    _click(driver, pay_all)
    _wait(driver).until(_path_is("/billing/pay-all/EUR"))
    _connected(driver)
    title = translate("Pay everything due in {currency}", language, currency="EUR")
    _wait_visible(driver, _exactly(title))
    pay_words = translate("Pay {amount}", language, amount="")  # "Pay " / "Payer ", then the total
    confirm = (
        By.XPATH,
        f"//button[starts-with(normalize-space(.), {_literal(pay_words)}) and contains(., '€')]",
    )
    _wait_visible(driver, confirm)
    driver.save_screenshot(str(artifacts_dir / f"e2e-pay-all-{language}.png"))
    _click(driver, confirm)  # the shared click: waits for it to stand still, looks again if redrawn
    received = translate("Thank you! We received {amount}.", language, amount="")[:15]
    _wait_visible(driver, _starts(received))
    nothing = translate(
        "Nothing to pay in {currency}: you are all paid up. Thank you!", language, currency="EUR"
    )
    _wait_visible(driver, _exactly(nothing))
    driver.get(f"{served.url}/billing")
    _wait(driver).until(_path_is("/billing"))
    _wait_visible(driver, _exactly(translate("Nothing to do: you are all paid up. Thank you!", language)))
    assert not driver.find_elements(*pay_all)


def _quote(language: str) -> str:
    """The start of 'Quote this reference: ...' in `language`."""
    return translate("Quote this reference: {reference}", language, reference="").strip()


def _literal(text: str) -> str:
    """`text` as an XPath string literal, whatever quotes it holds."""
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"


def _starts(text: str) -> tuple[str, str]:
    return (By.XPATH, f"//body//*[starts-with(normalize-space(text()), {_literal(text)})]")


def _exactly(text: str) -> tuple[str, str]:
    return (By.XPATH, f"//body//*[normalize-space(text())={_literal(text)}]")
