"""Pay everything due at once: one payment (a saved card, a new card, a direct debit, or credit) for every
open invoice and pending credit request of one currency, placed oldest due first, with one receipt.

Exactly once, like every other payment (see `charges`): in one transaction the client is locked, what is
due is summed and compared with the amount the payer confirmed (a different figure is refused: the payer
confirms again), and a *pending* payment is written under the key `pay_all:<client>:<currency>:attempt:<n>`.
A second click finds it pending and is refused; two racing clicks collide on the unique key. The gateway is
called with that key; `settlement.settle` places the money once, whoever reports it first (this request, a
webhook, the sandbox, reconciliation), on what is due when it arrives (`pay_all_ledger.place`): if another
payment arrived meanwhile, the rest becomes credit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access
from portal.core.clock import now_utc, today
from portal.core.paging import Page, bounds
from portal.db.models import Client, CreditEntry, Invoice, Payment, PaymentMethod
from portal.domain.allocation import OpenItem, allocate
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money, normalize_currency
from portal.domain.status import CreditReason, PaymentSource, PaymentStatus
from portal.events import Event, publish
from portal.i18n import N_, _, get_locale
from portal.payments import charges, pay_all_ledger, recurring_from_credit
from portal.payments.charges import CHECKOUT_REUSE, IN_PROGRESS_MESSAGE, PayOutcome
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import PaymentGateway
from portal.payments.ledger import apply_allocations, credit_balance, lock_open_items
from portal.payments.methods import OTHER_ACCOUNT_METHOD, ensure_customer
from portal.payments.pay_all_ledger import PAY_ALL, DueDocument, DueTotals

NOTHING_DUE = N_("Nothing is due in {currency}.")
CHANGED = N_(
    "What is due in {currency} changed to {amount} since this page was drawn (another payment arrived, or "
    "a new invoice). Nothing was charged: check the amount and confirm again."
)
CHECKOUT_KINDS = ("card", "direct_debit")


@dataclass(frozen=True)
class PayAllView:
    """What paying everything in one currency pays: the totals, the credit requests, one page of invoices
    (oldest due first), and the credit the client could use."""

    currency: str
    totals: DueTotals
    requests: list[DueDocument]
    invoices: Page[DueDocument]
    credit_minor: int

    def money(self, amount_minor: int, locale: str | None = None) -> str:
        """An amount of this currency, in the reader's locale."""
        return format_money(amount_minor, self.currency, locale or get_locale())


async def overview(
    *, actor: Actor, client_id: int, currency: str, page: int = 1, page_size: int = 25
) -> PayAllView:
    """What paying everything due in `currency` would pay now; the invoices a page at a time (a client may
    have a thousand open invoices: the cost of this does not grow with them)."""
    check_client_access(actor, client_id)
    currency = normalize_currency(currency)
    page, page_size = bounds(page, page_size)
    totals = await pay_all_ledger.due_totals(client_id, currency)
    pages = max(1, -(-totals.invoices // page_size))
    page = min(page, pages)
    rows = await pay_all_ledger.due_invoices(
        client_id, currency, offset=(page - 1) * page_size, limit=page_size
    )
    return PayAllView(
        currency=currency,
        totals=totals,
        requests=await pay_all_ledger.due_requests(client_id, currency),
        invoices=Page(rows, totals.invoices, page, page_size),
        credit_minor=await credit_balance(client_id, currency),
    )


def _client_of(actor: Actor) -> int:
    """Paying everything is done by the client (or an admin viewing as the client)."""
    if actor.client_id is None:
        raise NotFound(_("That client does not exist."))
    return actor.client_id


async def _begin(
    *,
    actor: Actor,
    currency: str,
    expected_minor: int,
    gateway: PaymentGateway,
    method: PaymentMethod | None,
    method_kind: str,
    calling: Callable[[int], None],
) -> Payment:
    """Lock the client, check what is due is what the payer confirmed, and write the pending payment
    (marked as being charged by this process, `calling`, before the commit shows it to another click)."""
    client_id = _client_of(actor)
    async with in_transaction():
        await Client.select_for_update().get(id=client_id)
        if await _pending(client_id, currency) is not None:
            raise Conflict(_(IN_PROGRESS_MESSAGE))
        totals = await pay_all_ledger.due_totals(client_id, currency)
        if totals.total_minor <= 0:
            raise Conflict(_(NOTHING_DUE, currency=currency))
        if totals.total_minor != expected_minor:
            amount = format_money(totals.total_minor, currency, get_locale())
            raise Conflict(_(CHANGED, currency=currency, amount=amount))
        attempts = await Payment.filter(client_id=client_id, currency=currency, purpose=PAY_ALL).count()
        try:
            async with in_transaction():
                payment = await Payment.create(
                    client_id=client_id,
                    amount_minor=totals.total_minor,
                    currency=currency,
                    status=PaymentStatus.pending,
                    source=PaymentSource.online,
                    method=method.kind if method else method_kind,
                    payment_method_id=method.id if method else None,
                    gateway=gateway.key,
                    idempotency_key=f"{PAY_ALL}:{client_id}:{currency}:attempt:{attempts + 1}",
                    purpose=PAY_ALL,
                    received_on=today(),
                    recorded_by_id=actor.impersonator_id,
                )
        except IntegrityError as exc:  # another click took the same attempt number
            raise Conflict(_(IN_PROGRESS_MESSAGE)) from exc
        calling(payment.id)
        return payment


async def pay_with_saved_method(
    *,
    actor: Actor,
    currency: str,
    expected_minor: int,
    method_id: int | None = None,
    gateway: PaymentGateway | None = None,
) -> PayOutcome:
    """Charge a saved method (the default when none is named) once for everything due in `currency`."""
    gateway = gateway or await selector.current_gateway()
    currency = normalize_currency(currency)
    client_id = _client_of(actor)
    if method_id is None:
        method = await PaymentMethod.get_or_none(
            client_id=client_id, is_default=True, detached_at__isnull=True, gateway=gateway.key
        )
        if method is None:
            raise Conflict(_("There is no saved payment method to charge."))
    else:
        method = await PaymentMethod.get_or_none(id=method_id, client_id=client_id, detached_at__isnull=True)
        if method is None:
            raise NotFound(_("That payment method does not exist."))
    if method.gateway != gateway.key:
        raise Conflict(_(OTHER_ACCOUNT_METHOD))
    earlier = await _pending(client_id, currency)
    if earlier is not None:  # a click whose process died, or whose answer was lost: concluded first
        told = await charges.conclude_pending(earlier, gateway)
        if told is not None and told.status != "failed":
            return told  # it paid everything, or the bank is still on it: nothing more is charged
    with charges.calling_gateway() as calling:
        payment = await _begin(
            actor=actor,
            currency=currency,
            expected_minor=expected_minor,
            gateway=gateway,
            method=method,
            method_kind=method.kind,
            calling=calling,
        )
        return await charges.charge_pending(payment=payment, method=method, gateway=gateway)


async def _pending(client_id: int, currency: str) -> Payment | None:
    """The earliest pay-everything attempt of this currency still pending (not a hosted checkout)."""
    return (
        await Payment.filter(
            client_id=client_id,
            currency=currency,
            purpose=PAY_ALL,
            status=PaymentStatus.pending,
            gateway_checkout_id=None,
        )
        .order_by("id")
        .first()
    )


async def start_checkout(
    *,
    actor: Actor,
    currency: str,
    expected_minor: int,
    success_url: str,
    cancel_url: str,
    method_kind: str = "card",
    gateway: PaymentGateway | None = None,
) -> PayOutcome:
    """Send the payer to the gateway's hosted page to pay everything due with a new card or a direct debit
    (a second click, or a second tab, gets the same page while it is open)."""
    if method_kind not in CHECKOUT_KINDS:
        raise InvalidInput(_("Choose how to pay."), field="method")
    gateway = gateway or await selector.current_gateway()
    currency = normalize_currency(currency)
    client_id = _client_of(actor)
    reusable = await Payment.filter(
        client_id=client_id,
        currency=currency,
        purpose=PAY_ALL,
        status=PaymentStatus.pending,
        gateway_checkout_id__not_isnull=True,
        amount_minor=expected_minor,
        method=method_kind,
        created_at__gte=now_utc() - CHECKOUT_REUSE,
    ).first()
    if reusable is not None:
        return PayOutcome("redirect", "", reusable.id, reusable.checkout_url)
    with charges.calling_gateway() as calling:
        payment = await _begin(
            actor=actor,
            currency=currency,
            expected_minor=expected_minor,
            gateway=gateway,
            method=None,
            method_kind=method_kind,
            calling=calling,
        )
        customer = await ensure_customer(client=await Client.get(id=client_id), gateway=gateway)
        session = await gateway.create_checkout(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            description=_("Everything due in {currency}", currency=currency),
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=payment.idempotency_key or "",
            metadata={"portal_payment_id": str(payment.id), "purpose": PAY_ALL, "target_id": currency},
            customer_ref=customer,
            method_kinds=(method_kind,),
            save_method=False,
            locale=get_locale(),
        )
        await Payment.filter(id=payment.id).update(
            gateway_checkout_id=session.session_id, checkout_url=session.url
        )
        return PayOutcome("redirect", "", payment.id, session.url)


async def pay_from_credit(*, actor: Actor, currency: str, expected_minor: int) -> int:
    """Use the client's credit on the open invoices of `currency`, oldest due first, as far as it goes
    (credit does not buy more credit: credit requests stay to pay); return the amount used."""
    currency = normalize_currency(currency)
    client_id = _client_of(actor)
    async with in_transaction():
        await Client.select_for_update().get(id=client_id)  # lock order: client, payment, invoices
        totals = await pay_all_ledger.due_totals(client_id, currency)
        if totals.total_minor <= 0:
            raise Conflict(_(NOTHING_DUE, currency=currency))
        if totals.total_minor != expected_minor:
            amount = format_money(totals.total_minor, currency, get_locale())
            raise Conflict(_(CHANGED, currency=currency, amount=amount))
        balance = await credit_balance(client_id, currency)
        if balance <= 0:
            raise Conflict(_("There is no credit to use."))
        open_items = await lock_open_items(client_id, currency)
        payable = {inv.id for inv in await _payable(client_id, currency, open_items)}
        items = [
            OpenItem(id=inv.id, due_date=inv.due_date, amount_due_minor=due, issued_at=inv.issue_date)
            for inv_id, (inv, due) in open_items.items()
            if inv_id in payable and due > 0
        ]
        use = min(balance, sum(item.amount_due_minor for item in items))
        if use <= 0:
            raise Conflict(
                _("Credit pays invoices only: there is no open invoice in {currency}.", currency=currency)
            )
        plan = allocate(use, items)
        for invoice_id, amount in plan.allocations:
            entry = await CreditEntry.create(
                client_id=client_id,
                currency=currency,
                amount_minor=-amount,
                reason=CreditReason.applied_to_invoice,
                invoice_id=invoice_id,
                created_by_id=actor.impersonator_id or actor.user_id,
            )
            await apply_allocations(
                open_items=open_items,
                plan=[(invoice_id, amount)],
                currency=currency,
                credit_entry_id=entry.id,
            )
            open_items[invoice_id] = (open_items[invoice_id][0], open_items[invoice_id][1] - amount)
            await audit.record(
                actor=actor,
                action="credit.apply",
                subject=f"invoice:{invoice_id}",
                client_id=client_id,
                details={"amount_minor": amount, "pay_all": True},
            )
    await publish(Event("payment.recorded", client_id=client_id, data={"pay_all": currency}))
    return use


async def _payable(
    client_id: int, currency: str, open_items: dict[int, tuple[Invoice, int]]
) -> list[Invoice]:
    """The invoices among `open_items` that paying everything pays."""
    recurring = await recurring_from_credit.recurring_requests(open_items)
    return [inv for inv, _due in open_items.values() if inv.billing_request_id not in recurring]
