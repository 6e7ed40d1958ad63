"""Break-it tests: markup typed into client names, companies, invoice lines and notes, quote titles and
request descriptions is shown as text everywhere, never run.

Pages (NiceGUI): `ui.label` and Vue's `{{ }}` are text; `ui.html`, `ui.markdown`, `v-html` slots and
`:prop` expressions are not. For each page that shows the records (My Billing, the invoice, quote,
receipt and history pages; the console's lists, client record, invoice and quote pages, audit log):
- the HTML the server sends never contains the markup itself (only an escaped form);
- the markup is on the page as data (it really was shown), held only by text-safe elements: not an HTML
  or Markdown element, not a `:prop` expression, and no slot template on the page uses `v-html`.
`test_no_page_uses_an_html_sink` keeps the pages free of `ui.html`, `ui.markdown`, `v-html` and friends:
a new use must be added to `HTML_SINKS` with the reason it shows no user data.

Emails: every message of `portal/mail/*_emails.py` built for these records has the markup escaped in its
HTML part (and as typed in its text part); a new message function fails until it is in `MESSAGES`.

PDFs: the invoice, receipt and quote PDFs print the markup as literal characters.
"""

from __future__ import annotations

import html
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from nicegui import ui
from nicegui.testing import User

from portal.billing import documents, invoices, pdf, quote_editor
from portal.billing.invoices import LineDraft
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditRequest,
    Invoice,
    InvoiceLine,
    Organization,
    Payment,
    Quote,
    QuoteLine,
    Refund,
    Subscription,
)
from portal.db.models import User as UserRow
from portal.domain.status import Role
from portal.mail import (
    account_emails,
    compose,
    invoice_emails,
    pay_all_emails,
    payment_emails,
    request_emails,
)
from portal.payments import ledger
from portal.payments.presentation import invoice_presentation
from tests.pdf_reading import pdf_text
from tests.ui.conftest import sign_in

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
PAYLOADS = (SCRIPT, IMG)
# Closes a quoted attribute value and adds its own attributes if a name is ever written into .props("...").
ATTRIBUTE = """x' onmouseover="alert(document.domain)" style="position:fixed;inset:0" y='"""
ROOT = Path(__file__).resolve().parents[2]
# Places in portal/pages and portal/components that may render HTML, each with why no user data gets there.
HTML_SINKS: dict[str, str] = {}
SINK = re.compile(r"ui\.html\(|ui\.markdown\(|ui\.mermaid\(|ui\.restructured_text\(|v-html|innerHTML")
UNSAFE_ELEMENTS = (ui.html, ui.markdown, ui.mermaid, ui.restructured_text)


class Evil:
    """The demo records, with markup typed into every free-text field a client or staff fills in."""

    client_id: int
    invoice_id: int
    quote_id: int
    payment_id: int
    request_id: int
    credit_id: int
    subscription_id: int


async def _staff() -> Actor:
    row = await UserRow.get(email="staff@demo.test")
    return Actor(user_id=row.id, role=Role.staff, email=row.email, name=row.full_name)


async def _evil() -> Evil:
    evil = Evil()
    ada = await Client.get(email="client@demo.test")
    await Client.filter(id=ada.id).update(name=f"Ada {SCRIPT}", company=f"Engines {IMG}")
    evil.client_id = ada.id
    staff = await _staff()
    evil.invoice_id = await invoices.create_invoice(
        actor=staff,
        client_id=ada.id,
        lines=[
            LineDraft(f"Design {SCRIPT}", Decimal(1), 20000, Decimal(0)),
            LineDraft(f"Hosting {IMG}", Decimal(2), 500, Decimal(0)),
        ],
        notes=f"Thanks {SCRIPT} and {IMG}",
        due_date=today() + timedelta(days=10),
    )
    paid = await ledger.record_offline_payment(
        actor=staff,
        client_id=ada.id,
        amount_minor=1000,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        reference=f"Ref {IMG}",
        invoice_id=evil.invoice_id,
    )
    evil.payment_id = paid.payment_id
    quote = await Quote.filter(client_id=ada.id, kind="estimate").first()
    assert quote is not None
    await Quote.filter(id=quote.id).update(title=f"App {SCRIPT}", terms=f"Terms {IMG}")
    await QuoteLine.filter(quote_id=quote.id).update(description=f"Screens {IMG}")
    evil.quote_id = quote.id
    request = await BillingRequest.filter(client_id=ada.id, status="pending").first()
    assert request is not None
    await BillingRequest.filter(id=request.id).update(description=f"Rush {SCRIPT}")
    evil.request_id = request.id
    credit = await CreditRequest.create(
        client_id=ada.id, description=f"Prepay {IMG}", amount_minor=5000, currency="USD"
    )
    evil.credit_id = credit.id
    await ledger.adjust_credit(
        actor=staff, client_id=ada.id, amount_minor=100, currency="USD", note=f"Goodwill {IMG}"
    )
    subscription = await Subscription.get(client_id=ada.id)
    await Subscription.filter(id=subscription.id).update(description=f"Care {SCRIPT}")
    evil.subscription_id = subscription.id
    return evil


# -- pages ------------------------------------------------------------------------------------------
def _carries(value: Any) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return any(p in text for p in PAYLOADS)


def _check_page(user: User, sent: str, path: str) -> list[str]:
    """What is wrong with the page just opened (`sent`: the HTML the server answered with)."""
    problems = []
    for payload in PAYLOADS:
        if payload in sent:
            problems.append(f"{path}: the HTML sent contains {payload} as markup")
    shown = False
    assert user.client is not None
    for element in user.client.elements.values():
        for slot in element.slots.values():
            template = getattr(slot, "template", None) or ""
            if "v-html" in template or "innerHTML" in template:
                problems.append(f"{path}: a {type(element).__name__} slot renders HTML: {template[:80]!r}")
        text = getattr(element, "text", None)
        rows = getattr(element, "rows", None) if isinstance(element, ui.table) else None
        holds = _carries(text or "") or _carries(element.props) or (rows is not None and _carries(rows))
        if not holds:
            continue
        shown = True
        if isinstance(element, UNSAFE_ELEMENTS):
            problems.append(f"{path}: {type(element).__name__} renders the markup as HTML")
        for key, value in element.props.items():
            if key.startswith(":") and _carries(value):
                problems.append(f"{path}: the markup is inside the JavaScript expression {key}")
    for element in user.client.elements.values():
        for key in element.props:
            if key.lower().startswith("on"):
                problems.append(f"{path}: a {type(element).__name__} has the event-handler attribute {key}")
    if not shown:
        problems.append(f"{path}: none of the records' text is on the page (the test would prove nothing)")
    return problems


async def _sweep(user: User, paths: list[str]) -> list[str]:
    problems = []
    for path in paths:
        response = await user.http_client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        await user.open(path)
        problems.extend(_check_page(user, response.text, path))
    return problems


async def test_a_clients_pages_show_markup_as_text(user: User) -> None:
    await user.open("/login")
    evil = await _evil()
    await sign_in(user, "client@demo.test")
    await user.should_see(f"Ada {SCRIPT}", retries=50)  # the name, as text, in the header
    await user.should_see(f"Engines {IMG}")
    problems = await _sweep(
        user,
        [
            "/billing",
            f"/billing/invoices/{evil.invoice_id}",
            f"/billing/quotes/{evil.quote_id}",
            f"/billing/receipts/{evil.payment_id}",
            "/billing/history",
        ],
    )
    assert not problems, "\n".join(problems)
    await user.open(f"/billing/invoices/{evil.invoice_id}")
    await user.should_see(f"Thanks {SCRIPT} and {IMG}")  # the notes, as text


async def test_the_consoles_pages_show_markup_as_text(user: User) -> None:
    await user.open("/login")
    evil = await _evil()
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    problems = await _sweep(
        user,
        [
            "/admin",
            "/admin/clients",
            f"/admin/clients/{evil.client_id}",
            f"/admin/clients/{evil.client_id}/edit",
            "/admin/invoices",
            f"/admin/invoices/{evil.invoice_id}",
            "/admin/quotes",
            f"/admin/quotes/{evil.quote_id}",
            "/admin/requests",
            "/admin/subscriptions",
            "/admin/audit",
        ],
    )
    assert not problems, "\n".join(problems)


async def test_the_page_check_catches_markup_rendered_as_html(user: User) -> None:
    """The check above, against a page that does everything wrong: it must report each way."""

    @ui.page("/escaping-probe")
    def probe() -> None:
        ui.html(f"<b>{IMG}</b>", sanitize=False)
        ui.label().props(f":title=\"'{IMG}'\"")
        table = ui.table(columns=[{"name": "n", "label": "N", "field": "n"}], rows=[{"n": IMG}])
        table.add_slot("body-cell-n", '<q-td :props="props"><span v-html="props.value"></span></q-td>')

    await user.open("/escaping-probe")
    problems = "\n".join(_check_page(user, SCRIPT, "/escaping-probe"))
    assert "the HTML sent contains" in problems
    assert "Html renders the markup as HTML" in problems
    assert "inside the JavaScript expression :title" in problems
    assert "slot renders HTML" in problems


async def _avatar_alts(user: User, path: str) -> list[str]:
    """The alt text of each avatar picture on `path`; fails on any element holding a smuggled attribute."""
    await user.open(path)
    await user.should_see(marker="client-name", retries=50)
    assert user.client is not None
    for element in user.client.elements.values():
        smuggled = [k for k in element.props if k.lower().startswith("on") or k in ("style", "y")]
        assert not smuggled, (path, type(element).__name__, element.props)
    return [e.props.get("alt") for e in user.find(marker="avatar").elements if isinstance(e, ui.image)]


async def test_a_name_that_closes_an_attribute_stays_one_attribute_value(user: User) -> None:
    """The avatar's alt text (and every other prop) holds the name as data: no attribute comes out of it."""
    await user.open("/login")
    ada = await Client.get(email="client@demo.test")
    await Client.filter(id=ada.id).update(
        name=ATTRIBUTE, company=ATTRIBUTE, avatar_path="/uploads/avatars/0123456789abcdef.png"
    )
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="client-name", retries=50)
    assert await _avatar_alts(user, "/billing") == [ATTRIBUTE]
    user.find(marker="sign-out").click()
    await user.should_see("Sign in to your billing portal", retries=50)
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    assert await _avatar_alts(user, f"/admin/clients/{ada.id}") == [f"Avatar of {ATTRIBUTE}"]


def test_no_page_uses_an_html_sink() -> None:
    found = []
    for folder in ("portal/pages", "portal/components"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                where = f"{path.relative_to(ROOT)}:{number}"
                if SINK.search(line) and where not in HTML_SINKS:
                    found.append(f"{where}: {line.strip()}")
    assert not found, (
        "HTML is rendered here; make sure no user data reaches it, test it in this file and list it in "
        "HTML_SINKS with the reason:\n" + "\n".join(found)
    )


# -- emails -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """The evil records, loaded as the callers load them for the email builders."""

    org: Organization
    client: Client
    invoice: Invoice
    lines: list[InvoiceLine]
    payment: Payment
    allocations: list[Allocation]
    quote: Quote
    request: BillingRequest
    credit: CreditRequest
    subscription: Subscription


async def _rows(e: Evil) -> Rows:
    return Rows(
        org=await get_organization(),
        client=await Client.get(id=e.client_id),
        invoice=await Invoice.get(id=e.invoice_id),
        lines=await InvoiceLine.filter(invoice_id=e.invoice_id).order_by("position", "id"),
        payment=await Payment.get(id=e.payment_id),
        allocations=await Allocation.filter(payment_id=e.payment_id).prefetch_related("invoice"),
        quote=await Quote.get(id=e.quote_id),
        request=await BillingRequest.get(id=e.request_id),
        credit=await CreditRequest.get(id=e.credit_id),
        subscription=await Subscription.get(id=e.subscription_id),
    )


Build = Callable[[Rows], compose.Email]
LINK = "https://portal.example/pay/token"
DUE = 12_345  # the amount due the callers read from the ledger
MESSAGES: dict[str, Build] = {
    "invitation": lambda r: account_emails.invitation(
        org=r.org, locale="en", name=f"Ada {SCRIPT}", link=LINK, expires_at=now_utc() + timedelta(days=2)
    ),
    "new_link": lambda r: payment_emails.new_link(
        org=r.org,
        client=r.client,
        target=r.invoice,
        link=LINK,
        expires_at=now_utc() + timedelta(days=2),
        amount_due_minor=DUE,
    ),
    "invoice_sent": lambda r: invoice_emails.invoice_sent(
        org=r.org,
        invoice=r.invoice,
        client=r.client,
        presentation=invoice_presentation(r.invoice, r.lines, []),
        link=LINK,
    ),
    "reminder": lambda r: invoice_emails.reminder(
        org=r.org, invoice=r.invoice, client=r.client, link=LINK, amount_due_minor=DUE
    ),
    "billing_request_sent": lambda r: request_emails.billing_request_sent(
        org=r.org, request=r.request, client=r.client, link=LINK
    ),
    "billing_request_expired": lambda r: request_emails.billing_request_expired(
        org=r.org, request=r.request, client=r.client
    ),
    "credit_request_sent": lambda r: request_emails.credit_request_sent(
        org=r.org, credit=r.credit, client=r.client, link=LINK
    ),
    "receipt": lambda r: payment_emails.receipt(
        org=r.org,
        payment=r.payment,
        client=r.client,
        saved_method=None,
        allocations=r.allocations,
        credited_minor=0,
        can_sign_in=True,
    ),
    "auto_charge_failed": lambda r: payment_emails.auto_charge_failed(
        org=r.org, client=r.client, target=r.invoice, reason=f"Declined {IMG}", amount_due_minor=DUE
    ),
    "subscription_payment_failed": lambda r: payment_emails.subscription_payment_failed(
        org=r.org, subscription=r.subscription, client=r.client, reason=f"Declined {SCRIPT}"
    ),
    "quote_sent": lambda r: invoice_emails.quote_sent(org=r.org, quote=r.quote, client=r.client, link=LINK),
    "receipt_email": lambda r: payment_emails.receipt_email(
        org=r.org,
        payment=r.payment,
        client=r.client,
        subject=f"Receipt {SCRIPT}",
        heading=f"Paid {SCRIPT}",
        blocks=payment_emails.credit_added(100, r.payment.currency, r.client.locale),
        can_sign_in=True,
    ),
    "refund_receipt": lambda r: payment_emails.refund_receipt(
        org=r.org,
        payment=r.payment,
        refund=Refund(
            id=1,
            payment_id=r.payment.id,
            amount_minor=500,
            currency=r.payment.currency,
            reason=f"Goodwill {SCRIPT}",
            created_at=now_utc(),
        ),
        client=r.client,
        saved_method=None,
        invoice_numbers=[f"INV {SCRIPT}"],
        credit_taken_minor=100,
        can_sign_in=True,
    ),
    "pay_all_receipt": lambda r: pay_all_emails.receipt(
        org=r.org,
        payment=r.payment,
        client=r.client,
        saved_method=None,
        documents=[("invoice", f"INV {SCRIPT}", 100), ("credit_request", f"Retainer {SCRIPT}", 200)],
        credited_minor=50,
        can_sign_in=True,
    ),
}


def _message_functions() -> set[str]:
    """Every email builder: each public function of a message module that returns an Email."""
    return {
        name
        for module in (account_emails, invoice_emails, payment_emails, request_emails)
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_")
        and function.__module__ == module.__name__
        and name != "brand"
        and function.__annotations__.get("return") in ("Email", compose.Email)
    }


def test_every_message_is_in_the_sweep() -> None:
    missing = sorted(_message_functions() - set(MESSAGES))
    assert not missing, f"add these email builders to MESSAGES in {__name__}: {missing}"


async def test_every_email_escapes_markup_in_its_html_part(user: User) -> None:
    await user.open("/login")
    rows = await _rows(await _evil())
    problems = []
    for name, build in MESSAGES.items():
        email = build(rows)
        shown = [p for p in PAYLOADS if p in email.text]
        for payload in PAYLOADS:
            if payload in email.html:
                problems.append(f"{name}: the HTML part contains {payload} as markup")
        if not shown:
            problems.append(f"{name}: none of the records' text is in the email (the test proves nothing)")
        for payload in shown:
            if html.escape(payload, quote=True) not in email.html and html.escape(
                payload, quote=False
            ) not in (email.html):
                problems.append(f"{name}: {payload} is in the text part but not escaped in the HTML part")
    assert not problems, "\n".join(problems)


# -- PDFs -------------------------------------------------------------------------------------------
_pdf_strings = pdf_text


async def test_the_pdfs_print_markup_as_literal_characters(user: User) -> None:
    await user.open("/login")
    evil = await _evil()
    staff = await _staff()
    invoice = await documents.get_invoice(actor=staff, invoice_id=evil.invoice_id)
    receipt = await documents.get_receipt(actor=staff, payment_id=evil.payment_id)
    quote = await quote_editor.quote_document(actor=staff, quote_id=evil.quote_id)
    made = {
        "invoice": pdf.invoice_pdf(invoice, compress=False),
        "receipt": pdf.receipt_pdf(receipt, compress=False),
        "quote": pdf.quote_pdf(
            quote.view,
            organization=quote.organization,
            client=quote.client,
            locale=quote.locale,
            compress=False,
        ),
    }
    expected = {
        "invoice": [f"Ada {SCRIPT}", f"Engines {IMG}", f"Design {SCRIPT}", f"Hosting {IMG}"],
        "receipt": [f"Ada {SCRIPT}", f"Ref {IMG}"],
        "quote": [f"Ada {SCRIPT}", f"App {SCRIPT}", f"Screens {IMG}"],
    }
    for name, data in made.items():
        assert data.startswith(b"%PDF")
        text = _pdf_strings(data)
        for words in expected[name]:
            assert words in text, f"{name} PDF does not print {words!r} literally:\n{text[:1500]}"
        # the text is drawn as glyphs of the embedded fonts (read back above): nothing in the file is a
        # script or an action a viewer would run (fpdf2's /OpenAction only sets the zoom)
        for marker in (b"/JavaScript", b"/JS ", b"/Launch", b"/AA "):
            assert marker not in data, (name, marker)
    notes = _pdf_strings(made["invoice"]).replace("\n", " ")
    assert f"Thanks {SCRIPT} and {IMG}" in notes
