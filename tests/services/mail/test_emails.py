"""Every email the portal sends, as it arrives: composed by the service that queues it, sent by the outbox
worker over a real SMTP conversation with an aiosmtpd sink on 127.0.0.1, then read back from the sink.

Each test checks what the recipient would notice (subject, the amounts and dates in their locale, the
link and where it goes, the organization's logo and colour) and saves the delivered sample as
`artifacts/emails/<kind>.html` and `.txt`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from functools import partial
from pathlib import Path

import pytest

from portal.billing import billing_requests, invoices, reminders
from portal.billing.invoices import LineDraft
from portal.core.clock import advance, now_utc, set_now
from portal.core.organization import get_organization
from portal.db.models import (
    Client,
    Invoice,
    OutboxEmail,
    PaymentLink,
    Quote,
    Subscription,
)
from portal.domain.money import format_money
from portal.i18n import format_datetime
from portal.mail import account_emails, invoice_emails
from portal.mail.outbox import enqueue
from portal.mail.templates import (
    Brand,
    Button,
    Content,
    Note,
    Paragraph,
    on_color,
    phrase,
    render_html,
    render_text,
    safe_color,
)
from portal.mail.worker import flush_outbox
from portal.payments import charges, credit_requests, ledger, links
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, add_card, sandbox
from tests.smtp_sink import SmtpSink

pytest_plugins = ["tests.conftest_smtp"]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts" / "emails"
PUBLIC = "https://portal.acme.test"
ORG = "Acme & Sons"
COLOR = "#0f766e"
LOGO = "/uploads/0123456789abcdef0123456789abcdef.png"
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
HREF = re.compile(r'href="([^"]*)"')
SRC = re.compile(r'src="([^"]*)"')


@pytest.fixture
async def shop(world: World, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """The organization with its name, logo, colour and address; the clock stopped at NOW."""
    monkeypatch.setenv("PUBLIC_URL", PUBLIC)
    org = await get_organization()
    org.name, org.theme_color, org.logo_path = ORG, COLOR, LOGO
    org.billing_address = "1 Quay Street\nBristol"
    await org.save()
    set_now(NOW)
    try:
        yield world
    finally:
        set_now(None)


# -- helpers --------------------------------------------------------------------------------------
def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content().replace("\r\n", "\n")


async def deliver(sink: SmtpSink, kind: str) -> tuple[OutboxEmail, EmailMessage]:
    """Flush the outbox through the sink; the one row of `kind` and the message that arrived for it."""
    await flush_outbox()
    (row,) = await OutboxEmail.filter(kind=kind)
    assert row.status == "sent", row.last_error
    arrived = [m.message for m in sink.messages if m.message_id == row.message_id]
    assert len(arrived) == 1, f"{kind}: {len(arrived)} deliveries"
    return row, arrived[0]


def save_sample(name: str, message: EmailMessage) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.html").write_text(html_of(message), encoding="utf-8")
    (ARTIFACTS / f"{name}.txt").write_text(
        f"Subject: {message['Subject']}\nTo: {message['To']}\n\n{text_of(message)}", encoding="utf-8"
    )


def check_branding(message: EmailMessage, *, lang: str = "en") -> tuple[str, str]:
    """What every email has: text and HTML, the logo by absolute URL, the theme colour, the name escaped,
    and only absolute http(s) links, each of which is also written out in the text."""
    text, html = text_of(message), html_of(message)
    assert f'<html lang="{lang}">' in html
    assert SRC.findall(html) == [PUBLIC + LOGO]
    assert f"background:{COLOR}" in html
    assert "Acme &amp; Sons" in html and ORG not in html
    assert text.startswith(ORG + "\n")
    assert "1 Quay Street" in text and "Bristol" in html
    for href in HREF.findall(html):
        assert href.startswith(("https://", "http://")), href
        assert href.replace("&amp;", "&") in text
    return text, html


def link_in(text: str) -> str:
    match = re.search(rf"{re.escape(PUBLIC)}/pay/([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)


async def new_invoice(
    world: World, amount: int = 12_345, *, client_id: int | None = None, **extra: object
) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[
            LineDraft("Design work", Decimal(2), amount // 2, Decimal(0)),
            LineDraft("Hosting", Decimal(1), amount - 2 * (amount // 2), Decimal(0)),
        ],
        due_date=NOW.date() + timedelta(days=14),
        **extra,  # type: ignore[arg-type]
    )


# -- invoices -------------------------------------------------------------------------------------
async def test_the_invoice_email_carries_its_amount_due_date_lines_and_a_working_payment_link(
    shop: World, smtp_sink: SmtpSink
) -> None:
    invoice_id = await new_invoice(shop, notes="Thank you for your business.\nPO 4471")
    invoice = await Invoice.get(id=invoice_id)

    row, message = await deliver(smtp_sink, "invoice")

    assert message["To"] == "alice@x.test" and row.client_id == shop.alice_id
    assert message["Subject"] == f"Invoice {invoice.number} from {ORG}: $123.45"
    text, html = check_branding(message)
    assert "Hello Alice Archer," in text
    assert f"Here is invoice {invoice.number} for $123.45, due on Nov 16, 2026." in text
    assert "<strong>$123.45</strong>" in html and "<strong>Nov 16, 2026</strong>" in html
    assert "Design work" in text and "Hosting" in text
    assert "PO 4471" in text and "Thank you for your business.<br>" in html
    token = link_in(text)
    assert f'href="{PUBLIC}/pay/{token}"' in html
    view = await links.view(token=token)  # the emailed link opens this invoice, payable
    assert (view.purpose, view.target_id, view.state, view.amount_due_minor) == (
        "invoice",
        invoice_id,
        "open",
        12_345,
    )
    save_sample("invoice", message)


async def test_names_and_notes_with_markup_are_shown_as_text(shop: World, smtp_sink: SmtpSink) -> None:
    evil = await Client.create(
        name='Zoë <script>alert("x")</script>', email="zoe@x.test", currency="EUR", locale="en"
    )
    await new_invoice(shop, client_id=evil.id, notes='Paid by <img src=x onerror="alert(1)"> & co')

    _row, message = await deliver(smtp_sink, "invoice")

    html, text = html_of(message), text_of(message)
    assert "<script" not in html and "<img src=x" not in html and 'onerror="alert' not in html
    assert "Zoë &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in html
    assert 'Hello Zoë <script>alert("x")</script>,' in text  # plain text shows it as it is


async def test_a_french_client_gets_french_dates_and_amounts(shop: World, smtp_sink: SmtpSink) -> None:
    await Client.filter(id=shop.alice_id).update(locale="fr", currency="EUR")
    await new_invoice(shop, 250_000)

    _row, message = await deliver(smtp_sink, "invoice")

    text, _html = check_branding(message, lang="fr")
    amount = format_money(250_000, "EUR", "fr")
    assert amount != format_money(250_000, "EUR", "en")
    assert amount in text and amount in message["Subject"]
    assert "16 nov. 2026" in text
    save_sample("invoice.fr", message)


async def test_the_reminder_says_before_on_or_after_the_due_date(shop: World, smtp_sink: SmtpSink) -> None:
    invoice_id = await new_invoice(shop)
    invoice = await Invoice.get(id=invoice_id)
    due = invoice.due_date
    link = f"{PUBLIC}/pay/token"

    left = await ledger.amount_due(invoice)  # what the reminder job reads from the ledger
    remind = partial(
        invoice_emails.reminder,
        org=await get_organization(),
        invoice=invoice,
        client=await Client.get(id=invoice.client_id),
        link=link,
        amount_due_minor=left,
    )
    before = remind(on=due - timedelta(days=3))
    on = remind(on=due)
    after = remind(on=due + timedelta(days=7))

    assert before.subject == f"Reminder: invoice {invoice.number} is due on Nov 16, 2026"
    assert "is due on Nov 16, 2026" in before.text and "overdue" not in before.text.lower()
    assert on.subject == f"Invoice {invoice.number} is due today"
    assert "is due today, Nov 16, 2026" in on.text
    assert after.subject == f"Overdue: invoice {invoice.number} was due on Nov 16, 2026"
    assert "was due on Nov 16, 2026 and $123.45 is still unpaid" in after.text
    for email in (before, on, after):
        assert f"Pay $123.45 now:\n{link}" in email.text and f'href="{link}"' in email.html


async def test_the_reminder_job_email_links_to_the_invoice_and_shows_what_is_left(
    shop: World, smtp_sink: SmtpSink
) -> None:
    invoice_id = await new_invoice(shop)
    await ledger.record_offline_payment(  # a part paid by transfer: the reminder asks for the rest
        actor=shop.staff,
        client_id=shop.alice_id,
        amount_minor=2_345,
        currency="USD",
        method="bank_transfer",
        received_on=NOW.date(),
        invoice_id=invoice_id,
    )
    due = (await Invoice.get(id=invoice_id)).due_date
    await OutboxEmail.all().delete()
    set_now(datetime.combine(due + timedelta(days=7), NOW.timetz()))

    report = await reminders.send_due_reminders()

    assert report.sent == 1
    _row, message = await deliver(smtp_sink, "reminder")
    text, _html = check_branding(message)
    left = await ledger.amount_due(await Invoice.get(id=invoice_id))
    assert left == 10_000
    assert "$100.00 is still unpaid" in text
    assert message["Subject"].startswith("Overdue: invoice ")
    view = await links.view(token=link_in(text))
    assert (view.target_id, view.state) == (invoice_id, "open")
    save_sample("reminder", message)


# -- billing and credit requests ------------------------------------------------------------------
async def _billing_request(world: World, **changes: object) -> billing_requests.SentRequest:
    fields: dict[str, object] = dict(
        actor=world.staff,
        client_id=world.alice_id,
        email="payer@alice.test",
        currency="USD",
        amount_minor=12_500,
        success_url="https://acme.test/thanks",
        cancel_url="https://acme.test/cancel",
        billing_type="one_time",
        description="Logo design",
    )
    return await billing_requests.create_billing_request(**{**fields, **changes})  # type: ignore[arg-type]


async def test_the_billing_request_email_links_to_its_payment_page_for_24_hours(
    shop: World, smtp_sink: SmtpSink
) -> None:
    sent = await _billing_request(shop, billing_type="recurring", interval="month")

    _row, message = await deliver(smtp_sink, "billing_request")

    assert message["To"] == "payer@alice.test"
    assert message["Subject"] == f"{ORG} requests $125.00"
    text, html = check_branding(message)
    assert f"{ORG} requests $125.00 for Logo design." in text
    assert "recurring payment: $125.00 every month" in text
    assert f"the link expires on {format_datetime(NOW + timedelta(hours=24), 'en')}." in text
    assert format_datetime(NOW, "en") == "Nov 2, 2026, 9:30\u202fAM UTC"  # the one date-and-time format
    assert sent.link in text and f'href="{sent.link}"' in html
    view = await links.view(token=link_in(text))
    assert (view.purpose, view.target_id, view.state) == ("billing_request", sent.id, "open")
    save_sample("billing_request", message)


async def test_an_expired_billing_request_tells_the_payer_to_ask_for_a_new_one(
    shop: World, smtp_sink: SmtpSink
) -> None:
    sent = await _billing_request(shop)
    await flush_outbox()
    advance(timedelta(hours=24, minutes=1))

    assert await billing_requests.expire_due() == 1

    _row, message = await deliver(smtp_sink, "billing_request_expired")
    assert message["To"] == "payer@alice.test"
    assert message["Subject"] == f"Your payment request from {ORG} has expired"
    text, html = check_branding(message)
    assert "The request for $125.00 (Logo design) sent on Nov 2, 2026 has expired" in text
    assert f"ask {ORG} for a new request" in text
    assert "/pay/" not in text and "href" not in html  # nothing to click: the old link cannot pay
    view = await links.view(token=sent.link.rsplit("/", 1)[-1])
    assert view.state == "expired"
    save_sample("billing_request_expired", message)


async def test_the_credit_request_email_asks_to_prepay_with_a_link(shop: World, smtp_sink: SmtpSink) -> None:
    credit_id = await credit_requests.create_credit_request(
        actor=shop.staff, client_id=shop.alice_id, amount_minor=50_000, currency="USD", description="Retainer"
    )

    _row, message = await deliver(smtp_sink, "credit_request")

    assert message["Subject"] == f"{ORG}: please add $500.00 of credit"
    text, _html = check_branding(message)
    assert "asks you to prepay $500.00 (Retainer)" in text
    view = await links.view(token=link_in(text))
    assert (view.purpose, view.target_id) == ("credit_request", credit_id)
    save_sample("credit_request", message)


# -- payments -------------------------------------------------------------------------------------
async def test_the_receipt_names_the_amount_card_and_invoice_paid(shop: World, smtp_sink: SmtpSink) -> None:
    await add_card(shop)
    invoice_id = await new_invoice(shop)
    number = (await Invoice.get(id=invoice_id)).number
    await OutboxEmail.all().delete()
    outcome = await charges.pay_with_saved_method(
        actor=shop.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert outcome.status == "succeeded"

    _row, message = await deliver(smtp_sink, "receipt")

    assert message["Subject"] == f"Receipt from {ORG}: $123.45 received"
    text, html = check_branding(message)
    assert "We received your payment of $123.45 on Nov 2, 2026. Thank you!" in text
    assert "visa ending in 4242" in text.lower()
    assert f"Invoice {number}:" in text
    assert f'href="{PUBLIC}/billing/receipts/{outcome.payment_id}"' in html
    save_sample("receipt", message)


async def test_a_failed_auto_charge_says_why_and_points_to_the_billing_page(
    shop: World, smtp_sink: SmtpSink
) -> None:
    await add_card(shop, DECLINES_ON_CHARGE)
    await charges.set_auto_charge(actor=shop.staff, client_id=shop.alice_id, enabled=True)
    invoice_id = await new_invoice(shop)
    number = (await Invoice.get(id=invoice_id)).number

    _row, message = await deliver(smtp_sink, "auto_charge_failed")

    assert message["Subject"] == f"{ORG}: we could not charge your card for invoice {number}"
    text, html = check_branding(message)
    assert "We tried to charge $123.45 to your saved card for invoice" in text
    assert "declined" in text
    assert f'href="{PUBLIC}/billing"' in html
    save_sample("auto_charge_failed", message)


async def _subscription(world: World, number: str = DECLINES_ON_CHARGE) -> Subscription:
    method_id = await add_card(world, number)
    gateway = sandbox()
    from portal.db.models import GatewayCustomer, PaymentMethod

    method = await PaymentMethod.get(id=method_id)
    customer = await GatewayCustomer.get(client_id=world.alice_id, gateway="sandbox")
    info = await gateway.create_subscription(
        customer_ref=customer.ref,
        method_ref=method.gateway_ref,
        amount_minor=4_900,
        currency="USD",
        interval="month",
        description="Care plan",
        idempotency_key=f"test-sub:{method_id}",
        metadata={},
        trial_end=now_utc() + timedelta(days=30),
    )
    return await Subscription.create(
        client_id=world.alice_id,
        description="Care plan",
        amount_minor=4_900,
        currency="USD",
        interval="month",
        status="active",
        payment_method_id=method_id,
        gateway="sandbox",
        gateway_ref=info.ref,
        current_period_start=now_utc(),
        current_period_end=info.current_period_end,
    )


async def test_a_declined_renewal_asks_to_update_the_card_on_the_billing_page(
    shop: World, smtp_sink: SmtpSink
) -> None:
    sub = await _subscription(shop)
    set_now(sub.current_period_end + timedelta(hours=1))

    assert await sandbox().renew_due(now=now_utc()) == 1

    assert (await Subscription.get(id=sub.id)).status == "past_due"
    _row, message = await deliver(smtp_sink, "subscription_payment_failed")
    assert message["Subject"] == f"{ORG}: your subscription payment did not go through"
    text, html = check_branding(message)
    assert "We could not charge $49.00 for Care plan." in text
    assert "declined" in text
    assert f'href="{PUBLIC}/billing"' in html and "Update your card" in html
    save_sample("subscription_payment_failed", message)


# -- estimates, proposals, invitations, new links -------------------------------------------------
@pytest.mark.parametrize("kind", ["estimate", "proposal"])
async def test_estimates_and_proposals_link_to_review_and_respond(
    shop: World, smtp_sink: SmtpSink, kind: str
) -> None:
    quote = await Quote.create(
        kind=kind,
        client_id=shop.alice_id,
        number=f"{kind[0].upper()}-0007",
        title="Website redesign",
        status="sent",
        currency="USD",
        issue_date=NOW.date(),
        valid_until=date(2026, 12, 1),
        total_minor=880_000,
    )
    link = f"{PUBLIC}/billing/quotes/{quote.id}"
    email = invoice_emails.quote_sent(
        org=await get_organization(), quote=quote, client=await Client.get(id=shop.alice_id), link=link
    )
    await enqueue(kind=kind, to="alice@x.test", client_id=shop.alice_id, **email.__dict__)

    _row, message = await deliver(smtp_sink, kind)

    label = kind.capitalize()
    assert message["Subject"] == f"{label} {quote.number} from {ORG}"
    text, html = check_branding(message)
    article = "an estimate" if kind == "estimate" else "a proposal"
    assert f"{ORG} sent you {article} for $8,800.00: Website redesign." in text
    assert "approve or decline it by Dec 1, 2026" in text
    assert f'href="{link}"' in html and "Review and respond" in html
    save_sample(kind, message)


async def test_the_invitation_links_to_set_a_password_and_says_when_it_expires(
    shop: World, smtp_sink: SmtpSink
) -> None:
    link = f"{PUBLIC}/set-password?token=abc123"
    email = account_emails.invitation(
        org=await get_organization(),
        locale="en",
        name="Alice Archer",
        link=link,
        expires_at=NOW + timedelta(days=7),
    )
    await enqueue(kind="invitation", to="alice@x.test", client_id=shop.alice_id, **email.__dict__)

    _row, message = await deliver(smtp_sink, "invitation")

    assert message["Subject"] == "Set your password for the billing portal"
    text, html = check_branding(message)
    assert f"{ORG} invited you to its billing portal" in text
    assert f"Set your password:\n{link}" in text and f'href="{link}"' in html
    assert f"expires on {format_datetime(NOW + timedelta(days=7), 'en')}." in text
    save_sample("invitation", message)


async def test_a_new_link_replaces_an_expired_one(shop: World, smtp_sink: SmtpSink) -> None:
    invoice_id = await new_invoice(shop)
    _row, first = await deliver(smtp_sink, "invoice")
    old = link_in(text_of(first))
    await PaymentLink.all().update(expires_at=now_utc() - timedelta(minutes=1))

    renewal = await links.send_fresh_link(token=old)

    assert (renewal.sent, renewal.address) == (True, "a****@x.test")
    assert renewal.message == "We sent a new link to a****@x.test."
    _row, message = await deliver(smtp_sink, "new_link")
    assert message["Subject"] == f"Your new payment link from {ORG}"
    text, _html = check_branding(message)
    number = (await Invoice.get(id=invoice_id)).number
    assert f"to pay invoice {number} ($123.45)" in text
    fresh = link_in(text)
    assert fresh != old
    assert (await links.view(token=fresh)).state == "open"
    assert (await links.view(token=old)).state == "expired"
    save_sample("new_link", message)


# -- the templates themselves ---------------------------------------------------------------------
def test_a_theme_colour_that_is_not_a_hex_colour_cannot_inject_css() -> None:
    assert safe_color("#0F766E") == "#0F766E"
    assert safe_color("red;background:url(https://evil.test)") == "#2563eb"
    assert safe_color('#123456" onload="x') == "#2563eb"
    assert on_color("#ffffff") == "#111827" and on_color("#0f766e") == "#ffffff"


def test_a_button_with_a_script_url_is_not_a_link_and_sentences_are_escaped_around_bold_values() -> None:
    brand = Brand(name="A <b>", color="nope", logo_url="https://x.test/logo.png")
    content = Content(
        locale="en",
        subject="S",
        heading="H",
        blocks=[
            Paragraph(
                phrase("Pay {amount} for {what}.", "en", strong=("amount",), amount="$1", what="<i>x</i>")
            ),
            Button("Go", "javascript:alert(1)", "Copy:"),
            Note("Notes", "line 1\n<b>line 2</b>"),
        ],
    )

    html, text = render_html(content, brand), render_text(content, brand)

    assert "Pay <strong>$1</strong> for &lt;i&gt;x&lt;/i&gt;." in html
    assert "javascript:" not in HREF.findall(html) and 'href="javascript' not in html
    assert "line 1<br>\n&lt;b&gt;line 2&lt;/b&gt;" in html
    assert "A &lt;b&gt;" in html and "background:#2563eb" in html
    assert "Pay $1 for <i>x</i>." in text and "> <b>line 2</b>" in text
