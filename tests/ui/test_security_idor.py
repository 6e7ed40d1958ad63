"""Break-it sweep over the app's own routes: another client's ids, and an admin viewing as a client.

The routes are read from the running app (every path with a `{...}` parameter), so a new page cannot be
left out: each parameter must be in `PARAMETERS` (which record of the other client to put there) or the
whole path in `NOT_ID_ROUTES` (with the reason it holds no id of ours), or the sweep fails naming it.

1. Signed in as Ada (client@demo.test), every id route opened with Yuki's ids (yuki@demo.test: her
   invoice, receipt, estimate, client record...) shows "not found" or "not allowed", exactly as it does for
   ids that do not exist, and nothing that identifies Yuki's records is anywhere in the page sent.
2. An admin viewing the portal as Ada opens every `/admin*` and `/settings*` route and gets "not allowed"
   (stop impersonating first) and none of the console's data.
3. A payment link's page ignores any id put in its address: it shows and charges its own invoice only.
4. The sign-in page records the caller's address, so guesses on many accounts from one address are
   limited there too (the limits themselves: tests/services/settings/test_security_secrets.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from fastapi.routing import APIRoute
from nicegui import app
from nicegui.testing import User
from starlette.routing import Mount, Route

from portal.accounts import sessions
from portal.billing import invoices
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.models import (
    Client,
    CreditNote,
    Invoice,
    LoginAttempt,
    Payment,
    PaymentMethod,
    Quote,
    QuoteLine,
    Subscription,
)
from portal.db.models import User as UserRow
from portal.domain.money import format_money
from portal.domain.status import Role
from portal.payments import ledger, links
from tests.ui.conftest import sign_in

# Routes whose parameter is not one of our record ids.
NOT_ID_ROUTES = {
    "/static/{path:path}": "the portal's own files (default logo, CSS, favicon), the same for everyone",
    "/pay/{token}": "a payment link token (32 random bytes; only its hash is stored)",
    "/sandbox/checkout/{session_id}": "the sandbox gateway's checkout session (80 random bits)",
    "/sandbox/setup/{session_id}": "the sandbox gateway's card setup session (80 random bits)",
    "/uploads/{name}": "the logo: a random file name, a re-encoded PNG that every page shows",
    "/uploads/avatars/{name}": "an avatar: a random file name, a re-encoded PNG",
    "/admin/exports/{kind}.csv": "the kind of file (invoices, payments, refunds, credit); staff only",
    "/billing/pay-all/{currency}": "a currency code: the page shows the signed-in client's own documents",
}
PARAMETERS = {  # parameter name -> attribute of `Records`
    "client_id": "client_id",
    "invoice_id": "invoice_id",
    "quote_id": "quote_id",
    "payment_id": "payment_id",
    "subscription_id": "subscription_id",
    "method_id": "method_id",
    "credit_note_id": "credit_note_id",
}
PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
MISSING = 9_999_999


@dataclass(frozen=True)
class Records:
    """One client's records, by the parameter they fill, and the words that would give them away."""

    client_id: int
    invoice_id: int
    quote_id: int
    payment_id: int
    subscription_id: int
    method_id: int
    credit_note_id: int
    tell_tales: tuple[str, ...]


def _paths() -> set[str]:
    """The path of every route of the app but NiceGUI's own."""
    found = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if path and not path.startswith("/_nicegui"):
            assert isinstance(route, APIRoute | Route | Mount), (
                f"{path}: a route of an unknown kind {route!r}"
            )
            found.add(path)
    return found


def _id_routes() -> set[str]:
    """Every route with a parameter in its path."""
    return {path for path in _paths() if "{" in path}


FIXED = {"kind": "payments", "currency": "USD"}  # the NOT_ID_ROUTES parameters that hold no id


def _fill(path: str, records: Records | None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in FIXED:
            return FIXED[name]
        return str(getattr(records, PARAMETERS[name]) if records else MISSING)

    return PARAM.sub(value, path)


async def _yukis_records() -> Records:
    """Yuki's invoice, card and subscription from the demo, plus a receipt and an estimate of hers."""
    yuki = await Client.get(email="yuki@demo.test")
    invoice = await Invoice.get(client_id=yuki.id)
    paid = await ledger.record_offline_payment(
        actor=_staff(await UserRow.get(email="staff@demo.test")),
        client_id=yuki.id,
        amount_minor=3000,
        currency="JPY",
        method="bank_transfer",
        received_on=today(),
        reference="YUKI-TRANSFER-77",
        invoice_id=invoice.id,
    )
    quote = await Quote.create(
        kind="estimate",
        client_id=yuki.id,
        number="EST-YUKI-0001",
        title="Kimono pattern library",
        status="sent",
        currency="JPY",
        issue_date=today(),
        valid_until=today() + timedelta(days=30),
        subtotal_minor=90000,
        tax_minor=0,
        total_minor=90000,
    )
    await QuoteLine.create(
        quote_id=quote.id,
        description="Pattern drawings",
        quantity=Decimal(1),
        unit_price_minor=90000,
        tax_rate=Decimal(0),
        net_minor=90000,
        tax_minor=0,
        gross_minor=90000,
    )
    credit_note = await CreditNote.create(  # as voiding an invoice of hers would issue
        number="CN-YUKI-0001",
        client_id=yuki.id,
        invoice_id=invoice.id,
        currency="JPY",
        issue_date=today(),
        reason="void",
        subtotal_minor=3000,
        tax_minor=0,
        total_minor=3000,
        dedupe_key="void:invoice:yuki-test",
    )
    return Records(
        client_id=yuki.id,
        invoice_id=invoice.id,
        quote_id=quote.id,
        payment_id=paid.payment_id,
        subscription_id=(await Subscription.get(client_id=yuki.id)).id,
        method_id=(await PaymentMethod.get(client_id=yuki.id)).id,
        credit_note_id=credit_note.id,
        tell_tales=(
            "CN-YUKI-0001",
            "Yuki",
            "yuki@demo.test",
            invoice.number or "",
            "Illustration set",
            "YUKI-TRANSFER-77",
            "EST-YUKI-0001",
            "Kimono pattern library",
            "Pattern drawings",
        ),
    )


def _visible_texts(user: User) -> list[str]:
    """What the page shows in its elements (labels, links, buttons...), in order."""
    texts = []
    for element in user.client.elements.values() if user.client else []:
        text = getattr(element, "text", None) or element.props.get("label")
        if isinstance(text, str) and text:
            texts.append(text)
    return texts


async def _answer(user: User, path: str) -> tuple[str, list[str]]:
    """The raw answer to a GET of `path` (status and body) and, for a page, the texts it shows."""
    response = await user.http_client.get(path)
    raw = f"{response.status_code}\n{response.text}"
    if response.headers.get("X-Nicegui-Content") != "page":
        return raw, []
    await user.open(path)
    return raw, _visible_texts(user)


async def _signed_in_as_ada(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)


async def test_every_route_with_an_id_refuses_another_clients_ids_like_missing_ones(user: User) -> None:
    await _signed_in_as_ada(user)
    routes = _id_routes()
    unmapped = sorted(
        path
        for path in routes
        if path not in NOT_ID_ROUTES and any(name not in PARAMETERS for name in PARAM.findall(path))
    )
    assert not unmapped, (
        f"routes with a parameter this sweep cannot fill: {unmapped}. Add the parameter to PARAMETERS "
        "(which of another client's records to open it with) or the path to NOT_ID_ROUTES (and why)."
    )
    stale = sorted(set(NOT_ID_ROUTES) - set(routes))
    assert not stale, f"NOT_ID_ROUTES names routes the app no longer has: {stale}"
    yuki = await _yukis_records()
    swept = [path for path in routes if path not in NOT_ID_ROUTES]
    assert {"/billing/invoices/{invoice_id}", "/admin/clients/{client_id}"} <= set(swept)
    problems = []
    for path in sorted(swept):
        raw, shown = await _answer(user, _fill(path, yuki))
        missing_raw, missing_shown = await _answer(user, _fill(path, None))
        leaked = [word for word in yuki.tell_tales if word and word in raw]
        if leaked:
            problems.append(f"{path}: the answer contains {leaked}")
        if shown != missing_shown:
            problems.append(f"{path}: shows {shown}, but for a missing id {missing_shown}")
        if not shown:  # a plain HTTP answer (a PDF...): the same "not found" as a missing id
            if not raw.startswith("404") or raw != missing_raw:
                problems.append(f"{path}: answered {raw[:80]!r}, a missing id {missing_raw[:80]!r}")
        elif not ({"Not found", "Not allowed"} & set(shown)):
            problems.append(f"{path}: neither 'Not found' nor 'Not allowed' in {shown}")
    assert not problems, "\n".join(problems)


async def test_an_admin_viewing_as_a_client_cannot_open_any_console_or_settings_page(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(f"/admin/clients/{ada.id}")
    user.find(marker="impersonate").click()
    await user.should_see("View the portal as Ada Lovelace", retries=20)
    user.find(marker="impersonate-reason").type("Ticket 9: checking the console is closed")
    user.find(marker="impersonate-start").click()
    await user.should_see("Viewing as Ada Lovelace", retries=50)

    yuki = await _yukis_records()
    own = Records(
        client_id=ada.id,
        invoice_id=(await Invoice.filter(client_id=ada.id).first()).id,  # type: ignore[union-attr]
        quote_id=(await Quote.filter(client_id=ada.id).first()).id,  # type: ignore[union-attr]
        payment_id=yuki.payment_id,
        subscription_id=(await Subscription.get(client_id=ada.id)).id,
        method_id=(await PaymentMethod.filter(client_id=ada.id).first()).id,  # type: ignore[union-attr]
        credit_note_id=yuki.credit_note_id,  # no console route takes one
        tell_tales=(),
    )
    console = sorted(path for path in _paths() if path.startswith(("/admin", "/settings")))
    assert {"/admin", "/admin/clients/{client_id}", "/settings/organization", "/settings/payments"} <= set(
        console
    )
    problems = []
    for target in sorted({_fill(path, records) for path in console for records in (own, yuki)}):
        response = await user.http_client.get(target)
        if response.headers.get("X-Nicegui-Content") != "page":
            if response.status_code not in (403, 404):
                problems.append(f"{target}: answered {response.status_code}")
            continue
        await user.open(target)
        shown = _visible_texts(user)
        if "You are viewing the portal as a client. Stop impersonating to use the console." not in shown:
            problems.append(f"{target}: shows {shown}")
        leaked = [word for word in yuki.tell_tales if word in response.text]
        if leaked:
            problems.append(f"{target}: the page sent contains {leaked}")
    assert not problems, "\n".join(problems)


# -- a payment link names one invoice, whatever the address around it says ---------------------------------
async def test_a_links_token_cannot_be_pointed_at_another_invoice(user: User) -> None:
    await user.open("/login")  # the app (and its database) is up
    ada = await Client.get(email="client@demo.test")
    first, second = await Invoice.filter(client_id=ada.id, status="open").order_by("id").limit(2)
    token = await links.issue(purpose="invoice", target_id=first.id, expires_at=now_utc() + timedelta(days=5))
    other = second.id
    await user.open(
        f"/pay/{token}?invoice={other}&invoice_id={other}&target_id={other}&purpose=credit_request&id={other}"
    )
    await user.should_see(f"Invoice {first.number}")
    await user.should_not_see(f"Invoice {second.number}")
    user.find(marker="pay-card").click()
    await user.should_see("Sandbox checkout", retries=50)
    staff = _staff(await UserRow.get(email="staff@demo.test"))
    due = (await invoices.get_invoice_summary(actor=staff, invoice_id=first.id)).amount_due_minor
    amount = user.find(marker="checkout-amount").elements.pop()
    assert amount.text == format_money(due, first.currency)
    pending = await Payment.filter(status="pending")
    assert [p.invoice_id for p in pending] == [first.id]


# -- guessing from one address through the sign-in page ------------------------------------------------------
async def test_the_sign_in_page_limits_guesses_per_address_across_accounts(user: User) -> None:
    await sign_in(user, "nobody@demo.test", "not the password")
    await user.should_see("Wrong email or password.", retries=50)
    (first,) = await LoginAttempt.all()
    assert first.ip, "the sign-in page records no address: the per-address limit cannot work"
    for n in range(sessions.IP_MAX_FAILURES - 1):  # the same address tried other accounts meanwhile
        await LoginAttempt.create(email=f"guess{n}@demo.test", ip=first.ip, succeeded=False)
    await sign_in(user, "client@demo.test")
    await user.should_see("Too many failed sign-in attempts. Try again after", retries=50)
    await user.should_not_see("My Billing")
    await LoginAttempt.filter(ip=first.ip).update(ip="192.0.2.1")  # from another address: let in
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)


def _staff(row: UserRow) -> Actor:
    return Actor(user_id=row.id, role=Role.staff, email=row.email, name=row.full_name)
