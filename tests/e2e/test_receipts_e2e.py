"""Issue 15 item 4 in Chromium, in English and French: staff record an offline (cash) payment on a client's
open invoice with the console's Record payment dialog, and the client gets its receipt over real SMTP (the
organization emails receipts for offline payments by default); staff then refund part of that payment from
the invoice's Payments and credit table, and the client gets a refund receipt too.

The portal runs with its background jobs on (every second), so its outbox worker sends what the payment and
the refund queued to an aiosmtpd sink on loopback (tests/smtp_sink.py): the messages are read as they
arrived there, addressed and worded for the client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from portal.domain.money import format_money
from portal.i18n import pgettext
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.test_live_sections_e2e import _containing, _dialog, _quoted, _see, _tr
from tests.e2e.test_login_e2e import ADMIN_EMAIL, DEMO_PASSWORD, _click, _sign_in, _visible, _wait
from tests.smtp_sink import DEFAULT_FROM, Received, SmtpSink

MAIL_SECONDS = 45.0  # the outbox runs every second; a loaded machine may take a few of them
PAID = 15000  # $150.00 received in cash, part of what the invoice asks (it stays open)
REFUNDED = 4000  # $40.00 of it given back
REFERENCE = "RC-7781"
REASON = "Duplicate hosting month"


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str, dict, SmtpSink]]:
    """A portal whose people all speak `language`, sending its outbox to its own SMTP sink."""
    language = request.param
    sink = SmtpSink().start()
    try:
        env = {
            "JOBS_ENABLED": "true",
            "JOBS_INTERVAL_SECONDS": "1",
            "SMTP_HOST": sink.host,
            "SMTP_PORT": str(sink.port),
            "SMTP_TLS": "none",
            "SMTP_FROM": DEFAULT_FROM,
            "SMTP_USERNAME": "",
            "SMTP_PASSWORD": "",
        }
        with served_portal(
            f"portal-receipts-{language}-", prepare=["-m", "tests.e2e.receipts_seed", language], env=env
        ) as p:
            line = next(x for x in p.prepared.splitlines() if x.startswith("RECEIPTS_SEED="))
            yield p, language, json.loads(line.split("=", 1)[1]), sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def admin_browser(portal: tuple[ServedPortal, str, dict, SmtpSink]) -> Iterator[WebDriver]:
    """The demo admin, signed in."""
    served, _language, _seed, _sink = portal
    with chromium("portal-e2e-chromium-receipts-") as driver:
        _sign_in(driver, served.url, ADMIN_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: "/admin" in d.current_url)
        yield driver


def _type(driver: WebDriver, xpath: str, text: str) -> None:
    """Select what a field holds and type over it, like a person."""
    field = _wait(driver).until(lambda d: _visible(d, xpath))[0]
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def _field(label: str) -> str:
    """The outlined field (a `label` element) captioned `label`, in the open dialog."""
    caption = f"contains(@class, 'q-field__label') and normalize-space(text())={_quoted(label)}"
    return _dialog(f"//label[.//div[{caption}]]")


def _named(text: str) -> str:
    """An XPath predicate: the element's words are exactly `text`."""
    return f"[normalize-space(.)={_quoted(text)}]"


def _words(text: str) -> str:
    """`text` with every run of white space (no-break ones included) as one space."""
    return " ".join(str(text).split())


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no plain-text part"
    return _words(part.get_content())  # type: ignore[attr-defined]


def _arrived(sink: SmtpSink, subject: str, what: str) -> list[Received]:
    """The messages the sink accepted with this subject, waiting up to MAIL_SECONDS for the first."""
    deadline = time.monotonic() + MAIL_SECONDS
    while True:
        found = [m for m in list(sink.messages) if _words(m.message["Subject"]) == _words(subject)]
        if found:
            return found
        if time.monotonic() > deadline:
            seen = [str(m.message["Subject"]) for m in list(sink.messages)]
            pytest.fail(
                f"no {what} reached the SMTP sink within {MAIL_SECONDS:.0f} s; expected the subject "
                f"{subject!r}, the sink has {seen!r}",
                pytrace=False,
            )
        time.sleep(0.25)


def _addressed_to(received: Received, email: str) -> None:
    assert received.rcpt_tos == (email,), received.rcpt_tos
    assert email in str(received.message["To"]), received.message["To"]
    assert received.mail_from == DEFAULT_FROM, received.mail_from


def test_an_offline_payment_and_its_refund_each_email_the_client_a_receipt(
    portal: tuple[ServedPortal, str, dict, SmtpSink], admin_browser: WebDriver, artifacts_dir: Path
) -> None:
    served, language, seed, sink = portal
    t: Callable[..., str] = _tr(language)
    driver = admin_browser
    money = lambda minor: format_money(minor, "USD", language)  # noqa: E731
    assert seed["email_offline_receipts"] is True, "offline receipts are not on by default"
    assert seed["due"] > PAID, seed

    # -- staff record $150.00 received in cash on Ada's oldest open invoice ------------------------------
    driver.get(f"{served.url}/admin/invoices/{seed['invoice_id']}")
    _see(driver, f"//*[normalize-space(text())={_quoted(t('Subtotal (net)'))}]")
    _click(driver, f"//button[contains(normalize-space(.), {_quoted(t('Record payment'))})]")  # an icon too
    _click(driver, _field(t("Method")))  # from Bank transfer, the dialog's first choice, to Cash
    _click(driver, f"//div[contains(@class, 'q-menu')]//div[contains(@class, 'q-item')]{_named(t('Cash'))}")
    _see(driver, _field(t("Method")) + f"//*[normalize-space(text())={_quoted(t('Cash'))}]")
    _type(driver, _dialog("//input[@inputmode='decimal']"), "150")
    _type(driver, _field(t("Reference (optional)")) + "//input", REFERENCE)
    _click(driver, _dialog(f"//button[normalize-space(.)={_quoted(t('Record payment'))}]"))
    _see(driver, _dialog(_containing(t("{amount} recorded.", amount=money(PAID)))))
    _see(driver, _dialog(f"//a[normalize-space(.)={_quoted(t('Open the receipt'))}]"))
    _click(driver, _dialog(f"//button[normalize-space(.)={_quoted(t('Close'))}]"))

    # -- the client's receipt arrives over SMTP, stating the amount in the client's language ----------------
    subject = t("Receipt from {org}: {amount} received", org=seed["org"], amount=money(PAID))
    receipts = _arrived(sink, subject, "receipt of the cash payment")
    assert len(receipts) == 1, f"{len(receipts)} receipts of one payment"
    receipt = receipts[0]
    _addressed_to(receipt, seed["client_email"])
    text = _body(receipt.message)
    for words in (money(PAID), t("Cash"), REFERENCE, seed["number"]):
        assert _words(words) in text, f"{words!r} is not in the receipt:\n{text}"

    # -- staff refund $40.00 of it from the invoice's Payments and credit table ------------------------------
    refund = pgettext("action", "Refund", language)
    _see(driver, f"//*[normalize-space(text())={_quoted(t('Payments and credit'))}]")
    _click(driver, f"//table//button[contains(normalize-space(.), {_quoted(refund)})]")
    _see(driver, _dialog(_containing(t("Up to {amount} can be refunded.", amount=money(PAID)))))
    _type(driver, _dialog("//input[@inputmode='decimal']"), "40")
    _type(driver, _dialog("//textarea"), REASON)
    _click(driver, _dialog(f"//button[contains(normalize-space(.), {_quoted(refund)})]"))
    done = t("{amount} recorded as refunded ({method}).", amount=money(REFUNDED), method=t("Cash"))
    _see(driver, _containing(done))
    driver.save_screenshot(str(artifacts_dir / f"e2e-receipts-refunded-{language}.png"))

    # -- and the refund receipt arrives too ------------------------------------------------------------------
    refund_subject = t("Refund from {org}: {amount}", org=seed["org"], amount=money(REFUNDED))
    refund_receipts = _arrived(sink, refund_subject, "refund receipt")
    assert len(refund_receipts) == 1, f"{len(refund_receipts)} receipts of one refund"
    refund_receipt = refund_receipts[0]
    _addressed_to(refund_receipt, seed["client_email"])
    text = _body(refund_receipt.message)
    for words in (money(REFUNDED), money(PAID), t("Cash"), REASON):
        assert _words(words) in text, f"{words!r} is not in the refund receipt:\n{text}"
    # the payment's receipt went once, whatever ran since
    assert len(_arrived(sink, subject, "receipt of the cash payment")) == 1, "the receipt was sent twice"
